package flow

import (
	"cmp"
	"fmt"
	"path"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipwayhq/slipway/internal/image"
	"github.com/slipwayhq/slipway/internal/sign"
)

// BuildType names how Slipway builds, in SLSA provenance.
const BuildType = "https://github.com/slipwayhq/slipway/build/v1"

// BuilderID names the builder in SLSA provenance.
const BuilderID = "https://github.com/slipwayhq/slipway"

// predicates are the attestations kinds (provenance, sbom) about the
// build rec, pushed as ref: made from the build record and, for the SBOM,
// what the build's layers in the OCI layout under output hold.
func predicates(kinds []string, rec image.Record, ref name.Digest, output string) ([]sign.Predicate, error) {
	preds := make([]sign.Predicate, len(kinds))
	for i, k := range kinds {
		var err error
		if preds[i].Type, err = predicateTypeOf(k); err != nil {
			return nil, fmt.Errorf("attesting %s: %w", ref, err)
		}
		switch k {
		case "provenance":
			preds[i].Value = Provenance(rec)
		case "sbom":
			layers, err := image.Contents(filepath.Join(output, image.LayoutDir), rec)
			if err != nil {
				return nil, fmt.Errorf("attesting %s: %w", ref, err)
			}
			preds[i].Value = SBOM(rec, ref.Context().Name(), layers)
		}
	}
	return preds, nil
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
			// Version is Slipway's version, when the binary knows it.
			Version map[string]string `json:"version,omitempty"`
		} `json:"builder"`
	} `json:"runDetails"`
}

// slipwayVersion is the version the Go toolchain stamped on this binary
// (its module version, from a tag or a pseudo-version), or "".
var slipwayVersion = func() string {
	info, ok := debug.ReadBuildInfo()
	if !ok || info.Main.Version == "(devel)" {
		return ""
	}
	return info.Main.Version
}()

// Provenance is the SLSA provenance v1 of a build, from its record only,
// so the same image always gets the same statement: the app, version,
// platforms and source commit asked for, the digest of the build settings
// (internalParameters.inputsHash: configuration, base, ignore patterns,
// platforms), the commit and base image (by digest) the build used, and
// Slipway as the builder, with its version when the binary knows it. It
// holds no time or host: a push that runs again adds nothing.
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
	if slipwayVersion != "" {
		p.RunDetails.Builder.Version = map[string]string{"slipway": slipwayVersion}
	}
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

// SPDXPackage is an SPDX package: the image, its base, a layer, a Go
// module or a Java archive.
type SPDXPackage struct {
	SPDXID           string            `json:"SPDXID"`
	Name             string            `json:"name"`
	VersionInfo      string            `json:"versionInfo,omitempty"`
	PackageFileName  string            `json:"packageFileName,omitempty"`
	Supplier         string            `json:"supplier,omitempty"`
	DownloadLocation string            `json:"downloadLocation"`
	FilesAnalyzed    bool              `json:"filesAnalyzed"`
	Checksums        []SPDXChecksum    `json:"checksums,omitempty"`
	PrimaryPurpose   string            `json:"primaryPackagePurpose,omitempty"`
	ExternalRefs     []SPDXExternalRef `json:"externalRefs,omitempty"`
	Comment          string            `json:"comment,omitempty"`
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

// SPDXChecksum is one checksum of a file or package.
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

// SBOM is an SPDX 2.3 document of the image repo@rec.Digest: the image as a
// container package, its base image by digest, and, from layers (what
// image.Contents found in the layers Slipway added), each layer as a package
// that CONTAINS its regular files (by their path in the image, with their
// SHA-256), the main module of each Go binary with the modules compiled
// into it (DEPENDS_ON, from its build info) and each Java archive by its
// manifest's Implementation-Title and -Version. Without layers it lists the
// build record's input files by their path in the project instead. Like
// Provenance it is the same for the same image.
func SBOM(rec image.Record, repo string, layers []image.LayerContents) SPDXDocument {
	b := &sbom{purls: map[string]string{}, doc: SPDXDocument{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		Name:              rec.App + "-" + rec.Version,
		DocumentNamespace: "https://spdx.org/spdxdocs/slipway/" + repo + "/" + rec.Digest,
		CreationInfo:      SPDXCreationInfo{Created: rec.Created.UTC().Format(time.RFC3339), Creators: []string{"Tool: slipway"}},
	}}
	b.images(rec, repo)
	if layers == nil {
		b.recordFiles(rec)
		return b.doc
	}
	for i, l := range layers {
		b.layer(i, l)
	}
	return b.doc
}

// noAssertion is SPDX's value for what the document does not say.
const noAssertion = "NOASSERTION"

// sbom is an SPDX document being written.
type sbom struct {
	doc         SPDXDocument
	purls       map[string]string // package URL -> SPDX ID, each module once
	files, jars int
}

func (b *sbom) rel(a, typ, c string) {
	b.doc.Relationships = append(b.doc.Relationships, SPDXRelationship{a, typ, c})
}

// images adds the image and its base image.
func (b *sbom) images(rec image.Record, repo string) {
	img := SPDXPackage{SPDXID: "SPDXRef-Image", Name: rec.App, VersionInfo: rec.Version, DownloadLocation: noAssertion, PrimaryPurpose: "CONTAINER"}
	if alg, hex, ok := strings.Cut(rec.Digest, ":"); ok {
		img.ExternalRefs = []SPDXExternalRef{{Category: "PACKAGE-MANAGER", Type: "purl",
			Locator: "pkg:oci/" + rec.App + "@" + alg + "%3A" + hex + "?repository_url=" + repo}}
		img.Checksums = []SPDXChecksum{{Algorithm: strings.ToUpper(alg), Value: hex}}
	}
	b.doc.Packages = append(b.doc.Packages, img)
	b.rel("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image")
	if rec.Base == nil {
		return
	}
	base := SPDXPackage{SPDXID: "SPDXRef-Base", Name: rec.Base.Name, VersionInfo: rec.Base.Digest, DownloadLocation: noAssertion, PrimaryPurpose: "CONTAINER"}
	if alg, hex, ok := strings.Cut(rec.Base.Digest, ":"); ok {
		base.Checksums = []SPDXChecksum{{Algorithm: strings.ToUpper(alg), Value: hex}}
		if purl := ociPURL(rec.Base.Name, rec.Base.Digest); purl != "" {
			base.ExternalRefs = []SPDXExternalRef{{Category: "PACKAGE-MANAGER", Type: "purl", Locator: purl}}
		}
	}
	b.doc.Packages = append(b.doc.Packages, base)
	b.rel("SPDXRef-Image", "DESCENDANT_OF", "SPDXRef-Base")
}

// recordFiles adds the build record's input files.
func (b *sbom) recordFiles(rec image.Record) {
	for i, f := range rec.Files {
		if f.SHA256 == "" {
			continue // directories and links
		}
		id := fmt.Sprintf("SPDXRef-File-%d", i)
		b.doc.Files = append(b.doc.Files, SPDXFile{SPDXID: id, FileName: "./" + strings.TrimPrefix(f.Path, "/"),
			Checksums: []SPDXChecksum{{Algorithm: "SHA256", Value: f.SHA256}}, LicenseConcluded: noAssertion, CopyrightText: noAssertion})
		b.rel("SPDXRef-Image", "CONTAINS", id)
	}
}

// layer adds the i-th layer, its files and what they were made from.
func (b *sbom) layer(i int, l image.LayerContents) {
	lid := fmt.Sprintf("SPDXRef-Layer-%d", i)
	lp := SPDXPackage{SPDXID: lid, Name: "layer " + l.Digest, DownloadLocation: noAssertion, Comment: "diffID " + l.DiffID + "; platforms " + strings.Join(l.Platforms, ", ")}
	if alg, hex, ok := strings.Cut(l.Digest, ":"); ok {
		lp.Checksums = []SPDXChecksum{{Algorithm: strings.ToUpper(alg), Value: hex}}
	}
	b.doc.Packages = append(b.doc.Packages, lp)
	b.rel("SPDXRef-Image", "CONTAINS", lid)
	for _, f := range l.Files {
		fid := fmt.Sprintf("SPDXRef-File-%d", b.files)
		b.files++
		b.doc.Files = append(b.doc.Files, SPDXFile{SPDXID: fid, FileName: "." + f.Path,
			Checksums: []SPDXChecksum{{Algorithm: "SHA256", Value: f.SHA256}}, LicenseConcluded: noAssertion, CopyrightText: noAssertion})
		b.rel(lid, "CONTAINS", fid)
		if f.Go != nil {
			b.goBinary(fid, f.Go)
		}
		if f.Java != nil {
			b.javaArchive(fid, f)
		}
	}
}

// goBinary adds the main module of the Go binary fid and the modules
// compiled into it.
func (b *sbom) goBinary(fid string, g *debug.BuildInfo) {
	main := b.module(g.Main.Path, g.Main.Version)
	b.doc.Packages[indexOf(b.doc.Packages, main)].PrimaryPurpose = "APPLICATION"
	b.rel(fid, "GENERATED_FROM", main)
	b.rel(main, "DEPENDS_ON", b.module("stdlib", g.GoVersion))
	for _, d := range g.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		b.rel(main, "DEPENDS_ON", b.module(d.Path, d.Version))
	}
}

// module is the SPDX ID of a Go module, added once.
func (b *sbom) module(path, version string) string {
	purl := "pkg:golang/" + path
	if version != "" && version != "(devel)" {
		purl += "@" + version
	}
	if id, ok := b.purls[purl]; ok {
		return id
	}
	id := fmt.Sprintf("SPDXRef-Package-go-%d", len(b.purls))
	b.purls[purl] = id
	b.doc.Packages = append(b.doc.Packages, SPDXPackage{SPDXID: id, Name: path, VersionInfo: version, DownloadLocation: noAssertion,
		PrimaryPurpose: "LIBRARY", ExternalRefs: []SPDXExternalRef{{Category: "PACKAGE-MANAGER", Type: "purl", Locator: purl}}})
	return id
}

// javaArchive adds the Java archive f, the file fid.
func (b *sbom) javaArchive(fid string, f image.ContentFile) {
	j := f.Java
	jid := fmt.Sprintf("SPDXRef-Package-java-%d", b.jars)
	b.jars++
	jp := SPDXPackage{SPDXID: jid, Name: cmp.Or(j.Title, path.Base(f.Path)), VersionInfo: j.Version, PackageFileName: "." + f.Path,
		DownloadLocation: noAssertion, PrimaryPurpose: "ARCHIVE", Checksums: []SPDXChecksum{{Algorithm: "SHA256", Value: f.SHA256}}}
	if j.Vendor != "" {
		jp.Supplier = "Organization: " + j.Vendor
	}
	b.doc.Packages = append(b.doc.Packages, jp)
	b.rel(fid, "GENERATED_FROM", jid)
}

func indexOf(ps []SPDXPackage, id string) int {
	return slices.IndexFunc(ps, func(p SPDXPackage) bool { return p.SPDXID == id })
}

// ociPURL is the package URL of the image name (REGISTRY/REPO[:TAG]) at
// digest, or "" when name does not parse.
func ociPURL(ref, digest string) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ""
	}
	repo := r.Context()
	last := repo.RepositoryStr()
	if i := strings.LastIndex(last, "/"); i >= 0 {
		last = last[i+1:]
	}
	return "pkg:oci/" + last + "@" + strings.Replace(digest, ":", "%3A", 1) + "?repository_url=" + repo.Name()
}
