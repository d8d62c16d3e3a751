package flow

import (
	"cmp"
	"fmt"
	"path"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"
	"google.golang.org/protobuf/types/known/structpb"

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
			if preds[i].Value, err = Provenance(rec); err != nil {
				return nil, fmt.Errorf("attesting %s: %w", ref, err)
			}
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

// slipwayVersion is the version the Go toolchain stamped on this binary
// (its module version, from a tag or a pseudo-version), or "".
var slipwayVersion = func() string {
	info, ok := debug.ReadBuildInfo()
	if !ok || info.Main.Version == "(devel)" {
		return ""
	}
	return info.Main.Version
}()

// Provenance is the SLSA provenance v1 of a build (in-toto's Go type), from
// its record only, so the same image always gets the same statement: the
// app, version, platforms and source commit asked for, the digest of the
// build settings (internalParameters.inputsHash: configuration, base,
// ignore patterns, platforms), the commit and base image (by digest) the
// build used, and Slipway as the builder, with its version when the binary
// knows it. It holds no time or host: a push that runs again adds nothing.
func Provenance(rec image.Record) (*slsa.Provenance, error) {
	platforms := []any{}
	for _, pl := range rec.Platforms {
		platforms = append(platforms, pl.Platform)
	}
	ext := map[string]any{"app": rec.App, "version": rec.Version, "platforms": platforms}
	if rec.Source != "" || rec.Revision != "" {
		ext["source"] = map[string]any{"uri": rec.Source, "revision": rec.Revision}
	}
	internal := map[string]any{"builder": rec.Builder}
	if rec.InputsHash != "" {
		internal["inputsHash"] = rec.InputsHash
	}
	bd := &slsa.BuildDefinition{BuildType: BuildType}
	var err1, err2 error
	bd.ExternalParameters, err1 = structpb.NewStruct(ext)
	bd.InternalParameters, err2 = structpb.NewStruct(internal)
	if err := cmp.Or(err1, err2); err != nil {
		return nil, fmt.Errorf("making provenance: %w", err)
	}
	if rec.Revision != "" {
		uri := rec.Source
		if uri != "" && !strings.HasPrefix(uri, "git+") {
			uri = "git+" + uri
		}
		bd.ResolvedDependencies = append(bd.ResolvedDependencies, &intoto.ResourceDescriptor{Uri: uri, Digest: map[string]string{"gitCommit": rec.Revision}})
	}
	if rec.Base != nil {
		d := &intoto.ResourceDescriptor{Uri: rec.Base.Name}
		if alg, hex, ok := strings.Cut(rec.Base.Digest, ":"); ok {
			d.Digest = map[string]string{alg: hex}
		}
		bd.ResolvedDependencies = append(bd.ResolvedDependencies, d)
	}
	builder := &slsa.Builder{Id: BuilderID}
	if slipwayVersion != "" {
		builder.Version = map[string]string{"slipway": slipwayVersion}
	}
	p := &slsa.Provenance{BuildDefinition: bd, RunDetails: &slsa.RunDetails{Builder: builder}}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("making provenance: %w", err)
	}
	return p, nil
}

// SBOM is an SPDX 2.3 document (SPDX's Go type) of the image
// repo@rec.Digest: the image as a container package, its base image by
// digest, and, from layers (what image.Contents found in the layers
// Slipway added), each layer as a package that CONTAINS its regular files
// (by their path in the image, with their SHA-256), the main module of
// each Go binary with the modules compiled into it (DEPENDS_ON, from its
// build info) and each Java archive by its manifest's
// Implementation-Title and -Version. Without layers it lists the build
// record's input files by their path in the project instead. Like
// Provenance it is the same for the same image.
func SBOM(rec image.Record, repo string, layers []image.LayerContents) *spdx.Document {
	b := &sbom{purls: map[string]*spdx.Package{}, doc: &spdx.Document{
		SPDXVersion: spdx.Version, DataLicense: spdx.DataLicense, SPDXIdentifier: "DOCUMENT",
		DocumentName:      rec.App + "-" + rec.Version,
		DocumentNamespace: "https://spdx.org/spdxdocs/slipway/" + repo + "/" + rec.Digest,
		CreationInfo: &spdx.CreationInfo{Created: rec.Created.UTC().Format(time.RFC3339),
			Creators: []common.Creator{{CreatorType: "Tool", Creator: "slipway"}}},
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
	doc         *spdx.Document
	purls       map[string]*spdx.Package // by package URL: each module once
	files, jars int
}

func (b *sbom) rel(a common.ElementID, typ string, c common.ElementID) {
	b.doc.Relationships = append(b.doc.Relationships, &spdx.Relationship{
		RefA: common.MakeDocElementID("", string(a)), Relationship: typ, RefB: common.MakeDocElementID("", string(c))})
}

// digestChecksum is the checksum an OCI digest (ALG:HEX) is, or nil.
func digestChecksum(digest string) []common.Checksum {
	alg, hex, ok := strings.Cut(digest, ":")
	if !ok {
		return nil
	}
	return []common.Checksum{{Algorithm: common.ChecksumAlgorithm(strings.ToUpper(alg)), Value: hex}}
}

// purlRef is a package URL as an SPDX external reference.
func purlRef(purl string) []*spdx.PackageExternalReference {
	return []*spdx.PackageExternalReference{{Category: "PACKAGE-MANAGER", RefType: "purl", Locator: purl}}
}

// images adds the image and its base image.
func (b *sbom) images(rec image.Record, repo string) {
	img := &spdx.Package{PackageSPDXIdentifier: "Image", PackageName: rec.App, PackageVersion: rec.Version,
		PackageDownloadLocation: noAssertion, PrimaryPackagePurpose: "CONTAINER", PackageChecksums: digestChecksum(rec.Digest)}
	if alg, hex, ok := strings.Cut(rec.Digest, ":"); ok {
		img.PackageExternalReferences = purlRef("pkg:oci/" + rec.App + "@" + alg + "%3A" + hex + "?repository_url=" + repo)
	}
	b.doc.Packages = append(b.doc.Packages, img)
	b.rel("DOCUMENT", "DESCRIBES", "Image")
	if rec.Base == nil {
		return
	}
	base := &spdx.Package{PackageSPDXIdentifier: "Base", PackageName: rec.Base.Name, PackageVersion: rec.Base.Digest,
		PackageDownloadLocation: noAssertion, PrimaryPackagePurpose: "CONTAINER", PackageChecksums: digestChecksum(rec.Base.Digest)}
	if purl := ociPURL(rec.Base.Name, rec.Base.Digest); purl != "" {
		base.PackageExternalReferences = purlRef(purl)
	}
	b.doc.Packages = append(b.doc.Packages, base)
	b.rel("Image", "DESCENDANT_OF", "Base")
}

// file adds a file with its SHA-256, and returns its ID.
func (b *sbom) file(name, sha256 string) common.ElementID {
	id := common.ElementID(fmt.Sprintf("File-%d", b.files))
	b.files++
	b.doc.Files = append(b.doc.Files, &spdx.File{FileSPDXIdentifier: id, FileName: name,
		Checksums: []common.Checksum{{Algorithm: common.SHA256, Value: sha256}}, LicenseConcluded: noAssertion, FileCopyrightText: noAssertion})
	return id
}

// recordFiles adds the build record's input files.
func (b *sbom) recordFiles(rec image.Record) {
	for _, f := range rec.Files {
		if f.SHA256 == "" {
			continue // directories and links
		}
		b.rel("Image", "CONTAINS", b.file("./"+strings.TrimPrefix(f.Path, "/"), f.SHA256))
	}
}

// layer adds the i-th layer, its files and what they were made from.
func (b *sbom) layer(i int, l image.LayerContents) {
	lid := common.ElementID(fmt.Sprintf("Layer-%d", i))
	b.doc.Packages = append(b.doc.Packages, &spdx.Package{PackageSPDXIdentifier: lid, PackageName: "layer " + l.Digest,
		PackageDownloadLocation: noAssertion, PackageChecksums: digestChecksum(l.Digest),
		PackageComment: "diffID " + l.DiffID + "; platforms " + strings.Join(l.Platforms, ", ")})
	b.rel("Image", "CONTAINS", lid)
	for _, f := range l.Files {
		fid := b.file("."+f.Path, f.SHA256)
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
func (b *sbom) goBinary(fid common.ElementID, g *debug.BuildInfo) {
	main := b.module(g.Main.Path, g.Main.Version)
	main.PrimaryPackagePurpose = "APPLICATION"
	b.rel(fid, "GENERATED_FROM", main.PackageSPDXIdentifier)
	b.rel(main.PackageSPDXIdentifier, "DEPENDS_ON", b.module("stdlib", g.GoVersion).PackageSPDXIdentifier)
	for _, d := range g.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		b.rel(main.PackageSPDXIdentifier, "DEPENDS_ON", b.module(d.Path, d.Version).PackageSPDXIdentifier)
	}
}

// module is the package of a Go module, added once.
func (b *sbom) module(path, version string) *spdx.Package {
	purl := "pkg:golang/" + path
	if version != "" && version != "(devel)" {
		purl += "@" + version
	}
	if p, ok := b.purls[purl]; ok {
		return p
	}
	p := &spdx.Package{PackageSPDXIdentifier: common.ElementID(fmt.Sprintf("Package-go-%d", len(b.purls))), PackageName: path, PackageVersion: version,
		PackageDownloadLocation: noAssertion, PrimaryPackagePurpose: "LIBRARY", PackageExternalReferences: purlRef(purl)}
	b.purls[purl] = p
	b.doc.Packages = append(b.doc.Packages, p)
	return p
}

// javaArchive adds the Java archive f, the file fid.
func (b *sbom) javaArchive(fid common.ElementID, f image.ContentFile) {
	j := f.Java
	jid := common.ElementID(fmt.Sprintf("Package-java-%d", b.jars))
	b.jars++
	jp := &spdx.Package{PackageSPDXIdentifier: jid, PackageName: cmp.Or(j.Title, path.Base(f.Path)), PackageVersion: j.Version,
		PackageFileName: "." + f.Path, PackageDownloadLocation: noAssertion, PrimaryPackagePurpose: "ARCHIVE",
		PackageChecksums: []common.Checksum{{Algorithm: common.SHA256, Value: f.SHA256}}}
	if j.Vendor != "" {
		jp.PackageSupplier = &common.Supplier{SupplierType: "Organization", Supplier: j.Vendor}
	}
	b.doc.Packages = append(b.doc.Packages, jp)
	b.rel(fid, "GENERATED_FROM", jid)
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
