package deploy

// Labels and annotations Slipway puts on what it deploys.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelVersion   = "app.kubernetes.io/version"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelEnv       = "slipway.dev/environment" // the environment a Deployment belongs to (its selector)
	LabelService   = "slipway.dev/service"     // the environment whose Service selects the pods

	AnnotationVersion  = "slipway.dev/version"
	AnnotationCommit   = "slipway.dev/commit"
	AnnotationDigest   = "slipway.dev/digest"
	AnnotationImage    = "slipway.dev/image"
	AnnotationBy       = "slipway.dev/deployed-by"
	AnnotationAt       = "slipway.dev/deployed-at"
	AnnotationReason   = "slipway.dev/reason"
	AnnotationCause    = "kubernetes.io/change-cause"
	AnnotationRevision = "deployment.kubernetes.io/revision"

	// FieldManager owns the fields Slipway applies.
	FieldManager = "slipway"
	// ManagedBy is the value of LabelManagedBy.
	ManagedBy = "slipway"
)
