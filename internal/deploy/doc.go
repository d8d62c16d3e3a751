// Package deploy renders, applies and watches an app's Kubernetes objects, and rolls them back.
package deploy
