// Package promote copies an image by digest from one registry to another, with its referrers, and records the promotion.
package promote
