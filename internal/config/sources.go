package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/template"
	"text/template/parse"
)

// NeverPacked are the names of directories that never go into an image,
// whether a layer names them or a walk meets them: git's data (which holds
// the remote's credentials and the whole history) and Slipway's own output.
var NeverPacked = []string{".git", ".slipway"}

// ErrOutsideProject is matched (errors.Is) when a layer source resolves
// outside the project directory.
var ErrOutsideProject = errors.New("outside the project")

// ExpandFrom executes a layer's from template for a platform. The template
// may use {{.OS}}, {{.Arch}} and {{.Variant}}, if/else/with on them, and
// eq, ne, not, and, or: no loops, no other functions, so a hostile from
// costs no more to expand than its own length. Its result is a path that
// CheckFrom and ResolveSource then check.
func ExpandFrom(from, os, arch, variant string) (string, error) {
	t, err := template.New("from").Option("missingkey=error").Parse(from)
	if err != nil {
		return "", fmt.Errorf("reading the template: %w", err)
	}
	if err := plainTemplate(t.Tree.Root); err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, struct{ OS, Arch, Variant string }{os, arch, variant}); err != nil {
		return "", fmt.Errorf("expanding the template: %w", err)
	}
	return b.String(), nil
}

var errTemplate = errors.New("a layer's from may use {{.OS}}, {{.Arch}} and {{.Variant}}, with if, else, with, eq, ne, not, and, or; nothing else")

// plainTemplate accepts only the template nodes ExpandFrom allows.
func plainTemplate(n parse.Node) error {
	switch n := n.(type) {
	case nil:
		return nil
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := plainTemplate(c); err != nil {
				return err
			}
		}
		return nil
	case *parse.TextNode:
		return nil
	case *parse.ActionNode:
		return plainPipe(n.Pipe)
	case *parse.IfNode:
		return errors.Join(plainPipe(n.Pipe), plainTemplate(n.List), plainTemplate(n.ElseList))
	case *parse.WithNode:
		return errors.Join(plainPipe(n.Pipe), plainTemplate(n.List), plainTemplate(n.ElseList))
	}
	return errTemplate
}

func plainPipe(p *parse.PipeNode) error {
	if p == nil || len(p.Decl) > 0 || len(p.Cmds) != 1 {
		return errTemplate
	}
	args := p.Cmds[0].Args
	if id, ok := args[0].(*parse.IdentifierNode); ok {
		switch id.Ident {
		case "eq", "ne", "not", "and", "or":
			args = args[1:]
		default:
			return errTemplate
		}
	} else if len(args) != 1 {
		return errTemplate
	}
	for _, a := range args {
		switch a := a.(type) {
		case *parse.FieldNode:
			if len(a.Ident) != 1 || (a.Ident[0] != "OS" && a.Ident[0] != "Arch" && a.Ident[0] != "Variant") {
				return errTemplate
			}
		case *parse.StringNode, *parse.DotNode:
		case *parse.PipeNode:
			if err := plainPipe(a); err != nil {
				return err
			}
		default:
			return errTemplate
		}
	}
	return nil
}

// CheckFrom checks an expanded layer source as text: a relative path that
// stays inside the project once cleaned and names no directory of
// NeverPacked. It returns the cleaned, slash-separated path.
func CheckFrom(from string) (string, error) {
	if from == "" {
		return "", errors.New("the path is empty")
	}
	if strings.ContainsRune(from, 0) {
		return "", errors.New("the path holds a NUL byte")
	}
	if path.IsAbs(from) || filepath.IsAbs(from) {
		return "", fmt.Errorf("an absolute path is %w; want a path relative to the project, e.g. dist/app", ErrOutsideProject)
	}
	clean := path.Clean(filepath.ToSlash(from))
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("its .. leads %w", ErrOutsideProject)
	}
	for _, seg := range strings.Split(clean, "/") {
		for _, never := range NeverPacked {
			if seg == never {
				return "", fmt.Errorf("%s never goes into an image", never)
			}
		}
	}
	return clean, nil
}

// ResolveSource returns the real path of dir/from, refusing one whose any
// component is a symlink that leads out of dir or into a directory of
// NeverPacked. Components that do not exist yet (a build output) cannot be
// links and are taken as written.
func ResolveSource(dir, from string) (string, error) {
	clean, err := CheckFrom(from)
	if err != nil {
		return "", err
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("resolving the project directory: %w", err)
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("resolving the project directory: %w", err)
	}
	cur := root
	segs := strings.Split(clean, "/")
	for i, seg := range segs {
		if seg == "." {
			continue
		}
		next := filepath.Join(cur, seg)
		fi, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			return filepath.Join(append([]string{next}, segs[i+1:]...)...), nil
		}
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", strings.Join(segs[:i+1], "/"), err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			real, err := filepath.EvalSymlinks(next)
			if err != nil {
				return "", fmt.Errorf("resolving the symlink %s: %w", strings.Join(segs[:i+1], "/"), err)
			}
			rel, err := filepath.Rel(root, real)
			if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
				return "", fmt.Errorf("%s is a symlink to %s, %w", strings.Join(segs[:i+1], "/"), clip(real, 200), ErrOutsideProject)
			}
			if _, err := CheckFrom(filepath.ToSlash(rel)); err != nil && rel != "." {
				return "", fmt.Errorf("%s is a symlink to %s: %w", strings.Join(segs[:i+1], "/"), filepath.ToSlash(rel), err)
			}
			next = real
		}
		cur = next
	}
	return cur, nil
}

// CheckSources checks every layer source of the project on disk, for each
// platform: none may resolve outside the project directory or into .git or
// .slipway. Problems point at the layer's from.
func (p *Project) CheckSources() error {
	if p.Dir == "" {
		return nil
	}
	v := &validator{src: p.Source}
	for i, l := range p.Image.Layers {
		at := fmt.Sprintf("image.layers[%d].from", i)
		seen := map[string]bool{}
		for _, plat := range p.Image.Platforms {
			os, arch, variant := splitPlatform(plat)
			from, err := ExpandFrom(l.From, os, arch, variant)
			if err != nil || seen[from] {
				continue // reported by Validate, or checked already
			}
			seen[from] = true
			if _, err := ResolveSource(p.Dir, from); err != nil {
				v.add(at, "%s", sourceProblem(l.From, from, err))
				break
			}
		}
	}
	return v.probs.orNil()
}

func sourceProblem(from, expanded string, err error) string {
	what := fmt.Sprintf("%q", clip(from, maxQuoted))
	if expanded != from {
		what += fmt.Sprintf(" (%q)", clip(expanded, maxQuoted))
	}
	msg := what + ": " + err.Error()
	if errors.Is(err, ErrOutsideProject) {
		msg += "; a layer copies files from inside the project directory only"
	}
	return msg
}

func splitPlatform(p string) (os, arch, variant string) {
	parts := strings.SplitN(p, "/", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return parts[0], parts[1], parts[2]
}
