package pipeline

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// DefaultReleaseURL is where Slipway's release archives are published;
// %s is the version, without the v.
const DefaultReleaseURL = "https://github.com/slipwayhq/slipway/releases/download/v%s"

// Install names the Slipway release generated jobs use, the one that
// generates them. Version tags Slipway's image (ci.yaml agent.slipwayImage).
// With Checksums, when ci.yaml's agent.slipway names no command of the
// team's own, a step downloads the Linux release archive of Version and
// checks it against the SHA-256 pinned in the generated file before
// unpacking it.
type Install struct {
	// Version is Slipway's version, without the v: e.g. "1.4.0".
	Version string
	// Checksums holds the hex SHA-256 of each Linux release archive, by
	// architecture (amd64, arm64), as goreleaser's checksums.txt lists them.
	// Without any, jobs install nothing.
	Checksums map[string]string
	// URL is the directory of the archives (default DefaultReleaseURL).
	URL string
}

// installDir is where the install step unpacks Slipway, relative to the
// repository's root, where every generated step starts.
func (in *Install) installDir() string { return ".slipway/" + in.Version }

// command is the path of the installed slipway, as steps run it.
func (in *Install) command() string { return in.installDir() + "/slipway" }

// archive is the name goreleaser gives the Linux archive of arch (see
// .goreleaser.yml's archives.name_template).
func archive(version, arch string) string {
	return fmt.Sprintf("slipway_%s_linux_%s.tar.gz", version, arch)
}

var (
	versionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	sha256RE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	urlRE     = regexp.MustCompile(`^https?://[A-Za-z0-9._~:/%@+=-]+$`)
)

// installArches are the architectures an install step knows, with the
// names uname -m gives them.
var installArches = map[string]string{"amd64": "x86_64 | amd64", "arm64": "aarch64 | arm64"}

// check says what is wrong with in, so no value reaches a generated script
// unchecked.
func (in *Install) check() error {
	if !versionRE.MatchString(in.Version) {
		return fmt.Errorf("release version %q of Slipway is not one such as 1.4.0", in.Version)
	}
	if in.URL != "" && !urlRE.MatchString(in.URL) {
		return fmt.Errorf("release URL %q of Slipway is not a plain http(s) URL", in.URL)
	}
	for arch, sum := range in.Checksums {
		if _, ok := installArches[arch]; !ok {
			return fmt.Errorf("architecture %q of a Slipway archive: want amd64 or arm64", arch)
		}
		if !sha256RE.MatchString(sum) {
			return fmt.Errorf("SHA-256 of the %s archive %q is not 64 lower-case hex digits", arch, sum)
		}
	}
	return nil
}

// script is the shell script that installs Slipway. It runs in a subshell,
// so it changes nothing of the step's own shell, and is the same, byte for
// byte, for the same Install.
func (in *Install) script() string {
	base := in.URL
	if base == "" {
		base = fmt.Sprintf(DefaultReleaseURL, in.Version)
	}
	var arches []string
	for a := range in.Checksums {
		arches = append(arches, a)
	}
	sort.Strings(arches)
	var b strings.Builder
	fmt.Fprintf(&b, "# Slipway %s, checked against the SHA-256 of its release archive.\n", in.Version)
	b.WriteString("(\n  set -eu\n  case \"$(uname -m)\" in\n")
	for _, a := range arches {
		fmt.Fprintf(&b, "    %s) arch=%s sum=%s ;;\n", installArches[a], a, in.Checksums[a])
	}
	fmt.Fprintf(&b, "    *) echo \"no Slipway %s archive for $(uname -m)\" >&2; exit 1 ;;\n  esac\n", in.Version)
	fmt.Fprintf(&b, "  mkdir -p %s && cd %s\n", in.installDir(), in.installDir())
	fmt.Fprintf(&b, "  file=\"slipway_%s_linux_$arch.tar.gz\"\n", in.Version)
	fmt.Fprintf(&b, "  [ -f \"$file\" ] || curl -fsSL --retry 3 -o \"$file\" \"%s/$file\"\n", base)
	b.WriteString("  echo \"$sum  $file\" | sha256sum -c - >/dev/null\n")
	b.WriteString("  tar -xzf \"$file\" slipway\n)")
	return b.String()
}

// VersionOnly returns the Install of Slipway version (a leading v is
// dropped) without checksums: jobs install nothing, and the version tags
// agent.slipwayImage.
func VersionOnly(version string) (*Install, error) {
	in := &Install{Version: strings.TrimPrefix(version, "v")}
	if err := in.check(); err != nil {
		return nil, err
	}
	return in, nil
}

// ParseChecksums reads goreleaser's checksums.txt ("SHA256  NAME" lines)
// and returns the Install of version's Linux archives.
func ParseChecksums(version string, text []byte) (*Install, error) {
	version = strings.TrimPrefix(version, "v")
	in := &Install{Version: version, Checksums: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		for arch := range installArches {
			if strings.TrimPrefix(f[1], "*") == archive(version, arch) {
				in.Checksums[arch] = f[0]
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading checksums: %w", err)
	}
	if len(in.Checksums) == 0 {
		return nil, fmt.Errorf("reading checksums: no line names %s", archive(version, "amd64"))
	}
	if err := in.check(); err != nil {
		return nil, fmt.Errorf("reading checksums: %w", err)
	}
	return in, nil
}
