package config

import (
	"errors"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"github.com/slipwayhq/slipway/internal/projfs"
)

// maxToolFile bounds the files of settings that another program reads
// (a kubeconfig for client-go, a Dockerfile for the builder): Slipway
// only checks their kind and size.
const maxToolFile = 16 << 20

// pathSetting is a setting of slipway.yaml that names a file.
type pathSetting struct {
	at, value string
	// content: the file is the project's own (pod.yml, a Dockerfile) and
	// held to the rule of layer sources. Otherwise it holds credentials
	// (a key, a CA bundle, a kubeconfig) that may live anywhere given as
	// an absolute path, but a relative path stays inside the project.
	content bool
	limit   int64
}

// pathSettings lists the file-valued settings of p that are set; keys
// from env://NAME name no file.
func (p *Project) pathSettings() []pathSetting {
	out := []pathSetting{{at: "deploy.pod", value: p.Deploy.Pod, content: true, limit: int64(DefaultLimits.MaxBytes)}}
	if p.Image.Dockerfile != "" {
		out = append(out, pathSetting{at: "image.dockerfile", value: p.Image.Dockerfile, content: true, limit: maxToolFile})
	}
	if p.Signing != nil && keyFile(p.Signing.Key) {
		out = append(out, pathSetting{at: "signing.key", value: p.Signing.Key, limit: projfs.MaxKey})
	}
	for _, r := range p.Registries {
		if r.CA != "" {
			out = append(out, pathSetting{at: "registries." + r.Name + ".ca", value: r.CA, limit: projfs.MaxKey})
		}
	}
	for _, e := range p.Environments {
		at := "environments." + e.Name
		if e.Kubeconfig != "" {
			out = append(out, pathSetting{at: at + ".kubeconfig", value: e.Kubeconfig, limit: maxToolFile})
		}
		if e.Verify != nil && keyFile(e.Verify.Key) {
			out = append(out, pathSetting{at: at + ".verify.key", value: e.Verify.Key, limit: projfs.MaxKey})
		}
	}
	return out
}

// keyFile reports whether a key reference names a file (keyRef reports
// the forms that name nothing).
func keyFile(ref string) bool {
	return strings.TrimSpace(ref) != "" && !strings.Contains(ref, "://")
}

// paths checks the file-valued settings as text (keyRef has checked the
// form of keys).
func (v *validator) paths(p *Project) {
	for _, s := range p.pathSettings() {
		if s.content {
			if msg := contentPathProblem(s.value); msg != "" {
				v.add(s.at, "%q: %s", s.value, msg)
			}
		} else if msg := credentialPathProblem(s.value); msg != "" {
			v.add(s.at, "%q: %s", s.value, msg)
		}
	}
}

// contentPathProblem says what is wrong with a path naming one of the
// project's own files, or returns "".
func contentPathProblem(p string) string {
	for _, seg := range strings.Split(path.Clean(filepath.ToSlash(p)), "/") {
		for _, never := range NeverPacked {
			if seg == never {
				return never + " holds git's data or Slipway's output, not the project's files"
			}
		}
	}
	if _, err := CheckFrom(p); err != nil {
		return err.Error() + "; the file is part of the project, so name it by a path inside the project directory, e.g. " + path.Base(filepath.ToSlash(p))
	}
	return ""
}

// credentialPathProblem says what is wrong with a path naming a key, a
// CA bundle or a kubeconfig, or returns "": an absolute path may point
// anywhere (the company CA under /etc/ssl, a CI file variable), a relative
// one may not climb out of the project.
func credentialPathProblem(p string) string {
	if strings.ContainsRune(p, 0) {
		return "the path holds a NUL byte"
	}
	if filepath.IsAbs(p) || path.IsAbs(p) {
		return ""
	}
	clean := path.Clean(filepath.ToSlash(p))
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "its .. leads outside the project; a relative path stays inside the project (an absolute one, such as /etc/ssl/certs/company.pem, may name a file elsewhere)"
	}
	return ""
}

// CheckFiles checks the files the settings of p name, on disk: a relative
// path leads through no symlink out of the project (a content file not
// into .git or .slipway either), and a file that exists is a regular file
// within its size limit. A missing file is no problem here: a key or a CA
// may exist only where the command that needs it runs.
func (p *Project) CheckFiles() error {
	if p.Dir == "" {
		return nil
	}
	v := &validator{src: p.Source}
	for _, s := range p.pathSettings() {
		if msg := fileProblem(p.Dir, s); msg != "" {
			v.add(s.at, "%q: %s", s.value, msg)
		}
	}
	return v.probs.orNil()
}

// fileProblem checks one setting's file on disk under dir.
func fileProblem(dir string, s pathSetting) string {
	var real string
	var err error
	switch {
	case s.content:
		if real, err = ResolveSource(dir, s.value); err != nil {
			return err.Error() + "; the file is part of the project"
		}
	case filepath.IsAbs(s.value):
		real = s.value
	default:
		if real, err = projfs.Resolve(dir, s.value); err != nil {
			return reason(err) + "; give an absolute path for a file outside the project"
		}
	}
	err = projfs.StatRegular(real, s.limit)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	return reason(err)
}

// reason is err's message without the path projfs names, which the
// problem quotes already.
func reason(err error) string {
	var pe *projfs.Error
	if errors.As(err, &pe) {
		return pe.Reason()
	}
	return err.Error()
}
