package flow

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipwayhq/slipway/internal/image"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/sign"
)

// BuildType names how Slipway builds, in SLSA provenance.
const BuildType = "https://github.com/slipwayhq/slipway/build/v1"

// BuilderID names the builder in SLSA provenance.
const BuilderID = "https://github.com/slipwayhq/slipway"

// attestPushed signs and pushes the attestations kinds (provenance, sbom)
// about the pushed image, made from its build record.
func attestPushed(ctx context.Context, client *registry.Client, s sign.Signer, kinds []string, rec image.Record, res *image.PushResult, rep progress.Reporter) error {
	ref, err := name.NewDigest(res.Reference, client.NameOptions()...)
	if err != nil {
		return fmt.Errorf("attesting %s: %w", res.Reference, err)
	}
	if rec.Digest != ref.DigestStr() {
		return fmt.Errorf("attesting %s: the build record is of %s", res.Reference, rec.Digest)
	}
	for _, k := range kinds {
		var predicate any
		switch k {
		case "provenance":
			predicate = Provenance(rec)
		case "sbom":
			predicate = SBOM(rec, ref.Context().Name())
		}
		predicateType, err := predicateTypeOf(k)
		if err != nil {
			return fmt.Errorf("attesting %s: %w", res.Reference, err)
		}
		ar, err := sign.Attest(ctx, ref, s, predicateType, predicate, client.RemoteOptions(ctx))
		if err != nil {
			return client.Classify(err, "target")
		}
		res.Attestations = ar.Tag
		if ar.UpToDate {
			rep.Report(progress.Event{Kind: progress.Skip, Step: "push", Msg: "already attested: " + k})
		} else {
			res.UpToDate = false
			rep.Report(progress.Event{Kind: progress.Finish, Step: "push", Msg: "attested " + k + " as " + ar.Tag})
		}
	}
	return nil
}

// predicateTypeOf maps an attestation kind of slipway.yaml to its
// in-toto predicate type.
func predicateTypeOf(kind string) (string, error) {
	switch kind {
	case "provenance":
		return sign.SLSAProvenance, nil
	case "sbom":
		return sign.SPDX, nil
	}
	return "", fmt.Errorf("unknown attestation %q; valid: provenance, sbom", kind)
}

// ResourceDescriptor is SLSA's reference to an artifact.
type ResourceDescriptor struct {
	URI    string            `json:"uri,omitempty"`
	Name   string            `json:"name,omitempty"`
	Digest map[string]string `json:"digest,omitempty"`
}

// ProvenancePredicate is a SLSA provenance v1 predicate.
type ProvenancePredicate struct {
	BuildDefinition struct {
		BuildType            string               `json:"buildType"`
		ExternalParameters   map[string]any       `json:"externalParameters"`
		InternalParameters   map[string]any       `json:"internalParameters,omitempty"`
		ResolvedDependencies []ResourceDescriptor `json:"resolvedDependencies,omitempty"`
	} `json:"buildDefinition"`
	RunDetails struct {
		Builder struct {
			ID string `json:"id"`
		} `json:"builder"`
	} `json:"runDetails"`
}

// Provenance is the SLSA provenance v1 of a build, from its record only,
// so the same image always gets the same statement: the app, version,
// platforms and source commit asked for, and the commit and base image
// (by digest) the build used. It holds no time or host: a push that runs
// again adds nothing.
func Provenance(rec image.Record) ProvenancePredicate {
	var p ProvenancePredicate
	bd := &p.BuildDefinition
	bd.BuildType = BuildType
	var platforms []string
	for _, pl := range rec.Platforms {
		platforms = append(platforms, pl.Platform)
	}
	bd.ExternalParameters = map[string]any{"app": rec.App, "version": rec.Version, "platforms": platforms}
	if rec.Source != "" || rec.Revision != "" {
		bd.ExternalParameters["source"] = map[string]string{"uri": rec.Source, "revision": rec.Revision}
	}
	bd.InternalParameters = map[string]any{"builder": rec.Builder}
	if rec.InputsHash != "" {
		bd.InternalParameters["inputsHash"] = rec.InputsHash
	}
	if rec.Revision != "" {
		uri := rec.Source
		if uri != "" && !strings.HasPrefix(uri, "git+") {
			uri = "git+" + uri
		}
		bd.ResolvedDependencies = append(bd.ResolvedDependencies, ResourceDescriptor{URI: uri, Digest: map[string]string{"gitCommit": rec.Revision}})
	}
	if rec.Base != nil {
		d := ResourceDescriptor{URI: rec.Base.Name}
		if alg, hex, ok := strings.Cut(rec.Base.Digest, ":"); ok {
			d.Digest = map[string]string{alg: hex}
		}
		bd.ResolvedDependencies = append(bd.ResolvedDependencies, d)
	}
	p.RunDetails.Builder.ID = BuilderID
	return p
}

// SPDXDocument is the part of an SPDX 2.3 JSON document Slipway writes.
type SPDXDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      SPDXCreationInfo   `json:"creationInfo"`
	Packages          []SPDXPackage      `json:"packages"`
	Files             []SPDXFile         `json:"files,omitempty"`
	Relationships     []SPDXRelationship `json:"relationships"`
}

// SPDXCreationInfo says who made the document, and when.
type SPDXCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

// SPDXPackage is an SPDX package: the image, or its base.
type SPDXPackage struct {
	SPDXID           string            `json:"SPDXID"`
	Name             string            `json:"name"`
	VersionInfo      string            `json:"versionInfo,omitempty"`
	DownloadLocation string            `json:"downloadLocation"`
	FilesAnalyzed    bool              `json:"filesAnalyzed"`
	PrimaryPurpose   string            `json:"primaryPackagePurpose,omitempty"`
	ExternalRefs     []SPDXExternalRef `json:"externalRefs,omitempty"`
}

// SPDXExternalRef is a package URL.
type SPDXExternalRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

// SPDXFile is a file with its checksum.
type SPDXFile struct {
	SPDXID           string         `json:"SPDXID"`
	FileName         string         `json:"fileName"`
	Checksums        []SPDXChecksum `json:"checksums"`
	LicenseConcluded string         `json:"licenseConcluded"`
	CopyrightText    string         `json:"copyrightText"`
}

// SPDXChecksum is one checksum of a file.
type SPDXChecksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

// SPDXRelationship relates two SPDX elements.
type SPDXRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

// SBOM is an SPDX 2.3 document of the image repo@rec.Digest, from its
// build record: the image as a container package, its base image by
// digest, and every regular file Slipway put in it (by its path in the
// project) with its SHA-256. It does not look inside the files: packages
// compiled into a binary are not listed. Like Provenance it is the same
// for the same image.
func SBOM(rec image.Record, repo string) SPDXDocument {
	const none = "NOASSERTION"
	doc := SPDXDocument{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		Name:              rec.App + "-" + rec.Version,
		DocumentNamespace: "https://spdx.org/spdxdocs/slipway/" + repo + "/" + rec.Digest,
		CreationInfo:      SPDXCreationInfo{Created: rec.Created.UTC().Format(time.RFC3339), Creators: []string{"Tool: slipway"}},
	}
	img := SPDXPackage{SPDXID: "SPDXRef-Image", Name: rec.App, VersionInfo: rec.Version, DownloadLocation: none, PrimaryPurpose: "CONTAINER"}
	if alg, hex, ok := strings.Cut(rec.Digest, ":"); ok {
		img.ExternalRefs = []SPDXExternalRef{{Category: "PACKAGE-MANAGER", Type: "purl",
			Locator: "pkg:oci/" + rec.App + "@" + alg + "%3A" + hex + "?repository_url=" + repo}}
	}
	doc.Packages = append(doc.Packages, img)
	doc.Relationships = append(doc.Relationships, SPDXRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image"})
	if rec.Base != nil {
		doc.Packages = append(doc.Packages, SPDXPackage{SPDXID: "SPDXRef-Base", Name: rec.Base.Name, VersionInfo: rec.Base.Digest, DownloadLocation: none})
		doc.Relationships = append(doc.Relationships, SPDXRelationship{"SPDXRef-Image", "DESCENDANT_OF", "SPDXRef-Base"})
	}
	for i, f := range rec.Files {
		if f.SHA256 == "" {
			continue // directories and links
		}
		id := fmt.Sprintf("SPDXRef-File-%d", i)
		doc.Files = append(doc.Files, SPDXFile{SPDXID: id, FileName: "./" + strings.TrimPrefix(f.Path, "/"),
			Checksums: []SPDXChecksum{{Algorithm: "SHA256", Value: f.SHA256}}, LicenseConcluded: none, CopyrightText: none})
		doc.Relationships = append(doc.Relationships, SPDXRelationship{"SPDXRef-Image", "CONTAINS", id})
	}
	return doc
}
