package deploy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ErrWouldNotStart is matched when a deploy is refused because the
// kubelet would refuse to start its containers.
var ErrWouldNotStart = errors.New("the containers would not start")

// rootProblem says why the kubelet would refuse to start container c of
// spec, whose image runs as imageUser, or returns "". With runAsNonRoot the
// kubelet starts a container only when its user is known to be non-root: a
// runAsUser other than 0, or an image user that is a non-zero number.
func rootProblem(spec corev1.PodSpec, c corev1.Container, imageUser, podFile string) string {
	nonRoot, uid := false, (*int64)(nil)
	if psc := spec.SecurityContext; psc != nil {
		nonRoot = psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
		uid = psc.RunAsUser
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsNonRoot != nil {
			nonRoot = *sc.RunAsNonRoot
		}
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
	}
	if !nonRoot {
		return ""
	}
	fix := fmt.Sprintf("set image.user to a non-root uid (e.g. 65532) or securityContext.runAsUser in %s", podFile)
	if uid != nil {
		if *uid == 0 {
			return fmt.Sprintf("container %q runs as uid 0 under runAsNonRoot, which the kubelet refuses (CreateContainerConfigError); %s", c.Name, fix)
		}
		return ""
	}
	name, _, _ := strings.Cut(imageUser, ":")
	n, err := strconv.ParseInt(name, 10, 64)
	switch {
	case name == "" || name == "root" || err == nil && n == 0:
		return fmt.Sprintf("the image of container %q runs as root (user %q) under runAsNonRoot, which the kubelet refuses (CreateContainerConfigError); %s", c.Name, imageUser, fix)
	case err != nil:
		return fmt.Sprintf("the image of container %q runs as the user name %q under runAsNonRoot; the kubelet cannot tell it is not root and refuses it (CreateContainerConfigError); %s", c.Name, imageUser, fix)
	}
	return ""
}

// requestsWarnings warns about containers without resource requests.
func requestsWarnings(spec corev1.PodSpec, podFile string) []string {
	var out []string
	for _, c := range spec.Containers {
		if len(c.Resources.Requests) == 0 && len(c.Resources.Limits) == 0 {
			out = append(out, fmt.Sprintf("container %q has no resource requests: the scheduler places it blind and it is the first evicted under pressure; add resources.requests (cpu, memory) to %s", c.Name, podFile))
		}
	}
	return out
}
