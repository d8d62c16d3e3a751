package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/registry"
)

// formatVersion changes whenever Slipway would build different bytes from
// the same inputs, so that records from older Slipways are not trusted.
const formatVersion = 3

// ErrNothingToBuild is returned for an image with no layers on scratch:
// an empty image, most likely a slipway.yaml without image:.
var ErrNothingToBuild = errors.New("nothing to build")

// ErrLayer is matched by every error about a layer's from, to or mode.
var ErrLayer = errors.New("invalid layer")

// Result is what Build produced.
type Result struct {
	Record
	// Layout is the OCI layout directory.
	Layout string
	// UpToDate is true when nothing changed since the last build and
	// nothing was done.
	UpToDate bool
}

// Build builds the image described by o.Image into an OCI layout at
// Output/oci and records it in Output/build.json. With unchanged inputs it
// only compares file metadata and returns the previous build with
// UpToDate set.
func Build(ctx context.Context, o BuildOptions) (Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Result{}, err
	}
	if err := checkOutput(o.Output); err != nil {
		return Result{}, fmt.Errorf("building %s: %w", describe(o.App, ""), err)
	}
	if o.Image.Dockerfile != "" {
		return buildDockerfile(ctx, o)
	}
	if len(o.Image.Layers) == 0 && (o.Image.Base == "" || o.Image.Base == Scratch) {
		return Result{}, fmt.Errorf("building %s: %w: image.layers is empty and the base is scratch; add image.layers (or image.base, or image.dockerfile) to slipway.yaml", describe(o.App, ""), ErrNothingToBuild)
	}
	rep := o.Progress
	rep.Report(progress.Event{Kind: progress.Start, Step: "build", Msg: "building " + describe(o.App, o.Meta.Version)})

	prev, err := ReadRecord(o.Output)
	if err != nil && !errors.Is(err, ErrNoBuild) {
		rep.Report(progress.Event{Kind: progress.Warn, Step: "build", Msg: "ignoring unreadable build record: " + err.Error()})
	}
	p, err := newPlan(o, prev.Files)
	if err != nil {
		return Result{}, err
	}
	lp := layout.Path(filepath.Join(o.Output, LayoutDir))
	base, err := pinBase(ctx, o, prev, lp)
	if err != nil {
		return Result{}, err
	}
	p.inputs = inputsHash(o, p, base)

	if upToDate(prev, p, lp) {
		if !slices.Equal(prev.Files, p.files) {
			// Touched but unchanged files: remember their new mtimes so the
			// next check needs no reading at all.
			prev.Files = p.files
			if err := writeRecord(o.Output, prev); err != nil {
				return Result{}, err
			}
		}
		rep.Report(progress.Event{Kind: progress.Info, Step: "build", Msg: "up to date: " + prev.Digest})
		prev.Warnings = warn(rep, p, prev)
		return Result{Record: prev, Layout: string(lp), UpToDate: true}, nil
	}

	rec, err := p.build(ctx, o, base, prev, lp)
	if err != nil {
		return Result{}, err
	}
	rec.Warnings = warn(rep, p, rec)
	if err := writeRecord(o.Output, rec); err != nil {
		return Result{}, err
	}
	rep.Report(progress.Event{Kind: progress.Info, Step: "build", Msg: "built " + rec.Digest})
	return Result{Record: rec, Layout: string(lp)}, nil
}

// inputsHash identifies everything a build of p on base depends on besides
// the files: when it and the files are unchanged, the build is up to date.
func inputsHash(o BuildOptions, p *plan, base *baseImage) string {
	return hashJSON(struct {
		Format     int
		App        string
		Image      config.Image
		Meta       Meta
		Base       string
		BaseDigest string
		Ignore     []string
	}{formatVersion, o.App, o.Image, Meta{Version: o.Meta.Version, Revision: o.Meta.Revision, Source: o.Meta.Source, Created: p.epoch}, base.name, base.pinned.String(), p.ignore})
}

func describe(app, version string) string {
	s := strings.TrimSpace(app + " " + version)
	if s == "" {
		return "image"
	}
	return s
}

// plan is everything Build knows before reading file contents.
type plan struct {
	epoch     time.Time
	platforms []v1.Platform
	layers    [][]*layerPlan // per platform, per configured layer
	ignore    []string
	files     []Fingerprint
	inputs    string
	skipped   []string // files left out because they look like secrets
}

// warn reports and returns what the build says about its inputs and the
// image it made.
func warn(rep progress.Reporter, p *plan, rec Record) []string {
	ws := p.warnings()
	for _, pr := range rec.Platforms {
		if pr.NoCommand {
			ws = append(ws, "the image has neither an entrypoint nor a cmd, so a container of it runs nothing; set image.entrypoint")
			break
		}
	}
	for _, w := range ws {
		rep.Report(progress.Event{Kind: progress.Warn, Step: "build", Msg: w})
	}
	return ws
}

// warnings are what the build says about its inputs.
func (p *plan) warnings() []string {
	if len(p.skipped) == 0 {
		return nil
	}
	const most = 10
	names := p.skipped
	more := ""
	if len(names) > most {
		names, more = names[:most], fmt.Sprintf(" and %d more", len(p.skipped)-most)
	}
	return []string{fmt.Sprintf("left out %d files that look like secrets: %s%s (list them in image.allowSecrets to put them in the image on purpose)",
		len(p.skipped), strings.Join(names, ", "), more)}
}

// layerPlan is one layer of one platform.
type layerPlan struct {
	src     source
	entries []entry
	key     string // what the layer is made from and how
	files   string // the state of its files
}

func (l *layerPlan) id() string { return l.key + "/" + l.files }

// newPlan lists every layer's entries; known are the fingerprints of the
// last build, whose content hashes are reused for files whose metadata did
// not change.
func newPlan(o BuildOptions, known []Fingerprint) (*plan, error) {
	epoch, err := buildTime(o.Meta.Created)
	if err != nil {
		return nil, err
	}
	p := &plan{epoch: epoch}
	if p.platforms, err = parsePlatforms(o.Image.Platforms); err != nil {
		return nil, err
	}
	w, err := p.walker(o)
	if err != nil {
		return nil, err
	}
	lp := &layerPlanner{p: p, w: w, dir: o.Dir, known: make(map[string]Fingerprint, len(known)),
		seen: map[string]*layerPlan{}, files: map[string]Fingerprint{}}
	for _, fp := range known {
		lp.known[fp.Path] = fp
	}
	for _, plat := range p.platforms {
		var lps []*layerPlan
		for i, l := range o.Image.Layers {
			x, err := lp.plan(i, l, plat)
			if err != nil {
				return nil, err
			}
			lps = append(lps, x)
		}
		p.layers = append(p.layers, lps)
	}
	slices.Sort(w.skipped)
	p.skipped = slices.Compact(w.skipped)
	p.files = slices.AppendSeq(make([]Fingerprint, 0, len(lp.files)), maps.Values(lp.files))
	slices.SortFunc(p.files, func(a, b Fingerprint) int { return strings.Compare(a.Path, b.Path) })
	return p, nil
}

// walker walks the project for the layers, leaving out what .slipwayignore
// and image.exclude name (kept in p.ignore, for the layers' keys).
func (p *plan) walker(o BuildOptions) (*walker, error) {
	lines, err := readIgnoreFile(o.Dir)
	if err != nil {
		return nil, err
	}
	p.ignore = append(append(p.ignore, lines...), o.Image.Exclude...)
	ignore, err := newMatcher(IgnoreFile+" and image.exclude", p.ignore)
	if err != nil {
		return nil, err
	}
	return newWalker(o.Dir, o.Output, ignore, o.Image.AllowSecrets)
}

// layerPlanner plans the layers of every platform, once for each distinct
// key, and gathers their files' fingerprints.
type layerPlanner struct {
	p     *plan
	w     *walker
	dir   string
	known map[string]Fingerprint // of the previous build, by path
	seen  map[string]*layerPlan  // by key
	files map[string]Fingerprint // by path
}

// plan is the i-th configured layer l on plat.
func (lp *layerPlanner) plan(i int, l config.Layer, plat v1.Platform) (*layerPlan, error) {
	src, err := resolveLayer(lp.dir, l, plat)
	if err != nil {
		return nil, fmt.Errorf("layer %d: %w", i+1, err)
	}
	key := hashJSON(struct {
		Format  int
		From    string
		To      string
		IntoDir bool
		Mode    *fs.FileMode
		Exclude []string
		Ignore  []string
		Time    int64
	}{formatVersion, src.from, src.to, src.intoDir, src.mode, src.exclude, lp.p.ignore, lp.p.epoch.Unix()})
	if x, ok := lp.seen[key]; ok {
		return x, nil
	}
	entries, err := lp.w.collect(src)
	if err != nil {
		return nil, fmt.Errorf("layer %d (%s, from %s): %w", i+1, plat, src.from, err)
	}
	for _, e := range entries {
		if e.fp != nil {
			if err := hashContent(e.fp, e.src, lp.known); err != nil {
				return nil, fmt.Errorf("layer %d (%s): %w", i+1, plat, err)
			}
		}
	}
	x := &layerPlan{src: src, entries: entries, key: key, files: hashEntries(entries)}
	lp.seen[key] = x
	for _, fp := range fingerprints(entries) {
		lp.files[fp.Path] = fp
	}
	return x, nil
}

// hashEntries hashes what a layer's tar is made of: names, modes, link
// targets and file fingerprints.
func hashEntries(entries []entry) string {
	type e struct {
		Name string
		Mode fs.FileMode
		Link string
		FP   *Fingerprint
	}
	es := make([]e, len(entries))
	for i, x := range entries {
		es[i] = e{x.name, x.mode, x.link, nil}
		if x.fp != nil {
			id := x.fp.identity()
			es[i].FP = &id
		}
	}
	return hashJSON(es)
}

func parsePlatforms(ss []string) ([]v1.Platform, error) {
	if len(ss) == 0 {
		ss = []string{DefaultPlatform}
	}
	seen := map[string]bool{}
	var ps []v1.Platform
	for _, s := range ss {
		p, err := v1.ParsePlatform(s)
		if err != nil || p.OS == "" || p.Architecture == "" {
			return nil, fmt.Errorf("reading platform %q: want os/arch[/variant], e.g. linux/arm64", s)
		}
		if seen[p.String()] {
			return nil, fmt.Errorf("reading platform %q: listed twice", s)
		}
		seen[p.String()] = true
		ps = append(ps, *p)
	}
	return ps, nil
}

// resolveLayer expands a layer's from for p, resolves it on disk (refusing a
// path, template or symlink that leads outside the project or into .git or
// .slipway) and checks to and mode.
func resolveLayer(dir string, l config.Layer, p v1.Platform) (source, error) {
	from, err := config.ExpandFrom(l.From, p.OS, p.Architecture, p.Variant)
	if err != nil {
		return source{}, fmt.Errorf("%w: from %q: %w", ErrLayer, l.From, err)
	}
	clean, err := config.CheckFrom(from)
	if err != nil {
		return source{}, fmt.Errorf("%w: from %q: %w", ErrLayer, from, err)
	}
	abs, err := config.ResolveSource(dir, from)
	if err != nil {
		return source{}, fmt.Errorf("%w: from %q: %w", ErrLayer, from, err)
	}
	if !strings.HasPrefix(l.To, "/") {
		return source{}, fmt.Errorf("%w: to %q: want an absolute path in the image", ErrLayer, l.To)
	}
	s := source{
		from:    clean,
		abs:     abs,
		to:      path.Clean(l.To),
		intoDir: strings.HasSuffix(l.To, "/"),
		exclude: l.Exclude,
	}
	if l.Mode != "" {
		m, err := parseMode(l.Mode)
		if err != nil {
			return source{}, fmt.Errorf("%w: mode %q: %w", ErrLayer, l.Mode, err)
		}
		s.mode = &m
	}
	return s, nil
}

// parseMode reads an octal mode such as 0755 or 4755.
func parseMode(s string) (fs.FileMode, error) {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o7777 {
		return 0, errors.New("want an octal mode such as 0755")
	}
	m := fs.FileMode(v & 0o777)
	if v&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if v&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if v&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m, nil
}

// upToDate reports whether prev was built from exactly p's inputs and is
// still in the layout.
func upToDate(prev Record, p *plan, lp layout.Path) bool {
	if prev.InputsHash == "" || prev.InputsHash != p.inputs || len(prev.Files) != len(p.files) {
		return false
	}
	for i := range p.files {
		if prev.Files[i].identity() != p.files[i].identity() {
			return false
		}
	}
	h, err := v1.NewHash(prev.Digest)
	if err != nil {
		return false
	}
	if _, err := os.Stat(filepath.Join(string(lp), "blobs", h.Algorithm, h.Hex)); err != nil {
		return false
	}
	idx, err := readIndexJSON(lp)
	if err != nil || len(idx.Manifests) != 1 {
		return false
	}
	return idx.Manifests[0].Digest == h
}

func readIndexJSON(lp layout.Path) (*v1.IndexManifest, error) {
	b, err := os.ReadFile(filepath.Join(string(lp), "index.json"))
	if err != nil {
		return nil, err
	}
	return v1.ParseIndexManifest(bytes.NewReader(b))
}

// build writes the layers, images and index into the layout.
func (p *plan) build(ctx context.Context, o BuildOptions, base *baseImage, prev Record, lp layout.Path) (Record, error) {
	if err := initLayout(lp); err != nil {
		return Record{}, err
	}
	rec := Record{
		App: o.App, Version: o.Meta.Version, Revision: o.Meta.Revision, Source: o.Meta.Source,
		Created: p.epoch, Builder: "slipway", InputsHash: p.inputs, Files: p.files,
	}
	if !base.scratch() {
		rec.Base = &BaseRecord{Name: base.name, Digest: base.pinned.String()}
	}
	ann := ociAnnotations(o.Meta, p.epoch)
	layers := newLayerSet(p, o.Progress, lp, prev)
	var images []v1.Image
	for i := range p.platforms {
		img, pr, err := p.buildImage(ctx, o, base, layers, i, ann)
		if err != nil {
			return Record{}, err
		}
		images = append(images, img)
		rec.Platforms = append(rec.Platforms, pr)
	}
	rec.Layers = layers.records

	top, err := p.writeLayout(o, base, images, ann, lp)
	if err != nil {
		return Record{}, err
	}
	rec.Digest, rec.MediaType = top.Digest.String(), string(top.MediaType)
	return rec, nil
}

// layerSet writes each distinct layer of a build once, reusing the
// layers of the previous build that are still in the layout.
type layerSet struct {
	p        *plan
	rep      progress.Reporter
	blobs    string
	reusable map[string]LayerRecord
	made     map[string]*fileLayer
	records  []LayerRecord // of every distinct layer, in order of first use
}

func newLayerSet(p *plan, rep progress.Reporter, lp layout.Path, prev Record) *layerSet {
	s := &layerSet{p: p, rep: rep, blobs: filepath.Join(string(lp), "blobs", "sha256"),
		reusable: map[string]LayerRecord{}, made: map[string]*fileLayer{}}
	for _, l := range prev.Layers {
		s.reusable[l.Key+"/"+l.Files] = l
	}
	return s
}

// layer is the j-th configured layer of plat, made or reused.
func (s *layerSet) layer(ctx context.Context, j int, plat v1.Platform, lpn *layerPlan) (*fileLayer, error) {
	l, ok := s.made[lpn.id()]
	if ok {
		return l, nil
	}
	prev := s.reusable[lpn.id()]
	files := prev.Contents
	if l, ok = reuseLayer(s.blobs, prev); !ok || files == nil {
		s.rep.Report(progress.Event{Kind: progress.Info, Step: "build",
			Msg: fmt.Sprintf("layer %d (%s): %s -> %s", j+1, plat, lpn.src.from, lpn.src.to)})
		var err error
		if l, files, err = writeLayer(ctx, s.blobs, lpn.entries, s.p.epoch); err != nil {
			return nil, fmt.Errorf("layer %d (%s, from %s): %w", j+1, plat, lpn.src.from, err)
		}
	}
	s.made[lpn.id()] = l
	s.records = append(s.records, LayerRecord{Key: lpn.key, Files: lpn.files,
		Digest: l.digest.String(), DiffID: l.diffID.String(), Size: l.size, Contents: files})
	return l, nil
}

// buildImage assembles the image of the i-th platform on its base.
func (p *plan) buildImage(ctx context.Context, o BuildOptions, base *baseImage, layers *layerSet, i int, ann map[string]string) (v1.Image, PlatformRecord, error) {
	plat := p.platforms[i]
	baseImg, baseDigest, err := base.forPlatform(ctx, plat)
	if err != nil {
		return nil, PlatformRecord{}, err
	}
	var ls []*fileLayer
	var history []v1.History
	for j, lpn := range p.layers[i] {
		l, err := layers.layer(ctx, j, plat, lpn)
		if err != nil {
			return nil, PlatformRecord{}, err
		}
		ls = append(ls, l)
		history = append(history, v1.History{
			Created:   v1.Time{Time: p.epoch},
			CreatedBy: fmt.Sprintf("slipway: copy %s to %s", lpn.src.from, lpn.src.to),
		})
	}
	img, n, err := assemble(baseImg, ls, history, imageSpec{
		image: o.Image, platform: plat, epoch: p.epoch, annotations: ann,
		baseName: base.name, baseDigest: baseDigest,
	})
	if err != nil {
		return nil, PlatformRecord{}, fmt.Errorf("assembling %s image: %w", plat, err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, PlatformRecord{}, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, PlatformRecord{}, err
	}
	pr := PlatformRecord{Platform: plat.String(), Digest: d.String(), BaseLayers: n, User: cfg.Config.User,
		NoCommand: len(cfg.Config.Entrypoint) == 0 && len(cfg.Config.Cmd) == 0}
	if !base.scratch() {
		pr.BaseDigest = baseDigest.String()
	}
	return img, pr, nil
}

// writeLayout writes the base blobs, the images and, for several
// platforms, their index into the layout, points index.json at the top
// one and removes every other blob; it returns the top descriptor.
func (p *plan) writeLayout(o BuildOptions, base *baseImage, images []v1.Image, ann map[string]string, lp layout.Path) (v1.Descriptor, error) {
	keep := map[v1.Hash]bool{}
	for h, raw := range base.blobs {
		if err := writeBlob(lp, h, raw); err != nil {
			return v1.Descriptor{}, err
		}
		keep[h] = true
	}
	for i, img := range images {
		o.Progress.Report(progress.Event{Kind: progress.Info, Step: "build", Msg: "writing " + p.platforms[i].String() + " image"})
		if err := lp.WriteImage(img); err != nil {
			return v1.Descriptor{}, fmt.Errorf("writing %s image to %s: %w", p.platforms[i], lp, base.classify(err))
		}
		if err := keepImage(img, keep); err != nil {
			return v1.Descriptor{}, err
		}
	}
	top, err := p.top(images, ann, base, lp, keep)
	if err != nil {
		return v1.Descriptor{}, err
	}
	if o.Meta.Version != "" {
		top.Annotations = map[string]string{AnnotationRefName: o.Meta.Version}
	}
	if err := writeIndexJSON(lp, top); err != nil {
		return v1.Descriptor{}, err
	}
	if err := collectGarbage(lp, keep); err != nil {
		return v1.Descriptor{}, err
	}
	return top, nil
}

// top is the descriptor index.json names: the one image, or an index of
// the images written to the layout (and kept).
func (p *plan) top(images []v1.Image, ann map[string]string, base *baseImage, lp layout.Path, keep map[v1.Hash]bool) (v1.Descriptor, error) {
	if len(images) == 1 {
		d, err := partial.Descriptor(images[0])
		if err != nil {
			return v1.Descriptor{}, err
		}
		return v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest, Platform: &p.platforms[0]}, nil
	}
	idx, err := newIndex(images, p.platforms, indexAnnotations(ann, base))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("assembling image index: %w", err)
	}
	if err := writeBlob(lp, idx.digest, idx.raw); err != nil {
		return v1.Descriptor{}, err
	}
	keep[idx.digest] = true
	return v1.Descriptor{MediaType: types.OCIImageIndex, Size: int64(len(idx.raw)), Digest: idx.digest}, nil
}

// classify classifies an error from fetching base blobs.
func (b *baseImage) classify(err error) error {
	if b.scratch() {
		return err
	}
	return b.remote.ClassifyFor(err, registry.SideBase, b.ref)
}

func reuseLayer(blobs string, r LayerRecord) (*fileLayer, bool) {
	if r.Digest == "" {
		return nil, false
	}
	d, err1 := v1.NewHash(r.Digest)
	diff, err2 := v1.NewHash(r.DiffID)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	p := filepath.Join(blobs, d.Hex)
	if fi, err := os.Stat(p); err != nil || fi.Size() != r.Size {
		return nil, false
	}
	return &fileLayer{path: p, digest: d, diffID: diff, size: r.Size}, true
}

func ociAnnotations(m Meta, epoch time.Time) map[string]string {
	a := map[string]string{AnnotationCreated: epoch.UTC().Format(time.RFC3339)}
	for k, v := range map[string]string{AnnotationVersion: m.Version, AnnotationRevision: m.Revision, AnnotationSource: m.Source} {
		if v != "" {
			a[k] = v
		}
	}
	return a
}

func indexAnnotations(ann map[string]string, b *baseImage) map[string]string {
	a := make(map[string]string, len(ann)+2)
	maps.Copy(a, ann)
	if !b.scratch() {
		a[AnnotationBaseName] = b.name
		a[AnnotationBaseDigest] = b.pinned.String()
	}
	return a
}

func keepImage(img v1.Image, keep map[v1.Hash]bool) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	keep[d], keep[m.Config.Digest] = true, true
	for _, l := range m.Layers {
		keep[l.Digest] = true
	}
	return nil
}

const ociLayoutFile = `{"imageLayoutVersion":"1.0.0"}`

func initLayout(lp layout.Path) error {
	if err := os.MkdirAll(filepath.Join(string(lp), "blobs", "sha256"), 0o755); err != nil {
		return fmt.Errorf("creating OCI layout: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(string(lp), "oci-layout"), []byte(ociLayoutFile)); err != nil {
		return fmt.Errorf("creating OCI layout: %w", err)
	}
	return nil
}

func writeBlob(lp layout.Path, h v1.Hash, b []byte) error {
	p := filepath.Join(string(lp), "blobs", h.Algorithm, h.Hex)
	if fi, err := os.Stat(p); err == nil && fi.Size() == int64(len(b)) {
		return nil
	}
	if err := writeFileAtomic(p, b); err != nil {
		return fmt.Errorf("writing blob: %w", err)
	}
	return nil
}

// writeIndexJSON makes desc the layout's only entry.
func writeIndexJSON(lp layout.Path, desc v1.Descriptor) error {
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{desc}}
	b, err := json.Marshal(idx)
	if err != nil {
		return fmt.Errorf("encoding index.json: %w", err)
	}
	return writeFileAtomic(filepath.Join(string(lp), "index.json"), b)
}

// collectGarbage removes the blobs not in keep, and leftover temporary files.
func collectGarbage(lp layout.Path, keep map[v1.Hash]bool) error {
	dir := filepath.Join(string(lp), "blobs", "sha256")
	des, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("cleaning OCI layout: %w", err)
	}
	for _, de := range des {
		if keep[v1.Hash{Algorithm: "sha256", Hex: de.Name()}] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, de.Name())); err != nil {
			return fmt.Errorf("cleaning OCI layout: %w", err)
		}
	}
	return nil
}
