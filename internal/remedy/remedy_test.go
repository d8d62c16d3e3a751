package remedy

import (
	"errors"
	"fmt"
	"testing"
)

type carrier struct {
	msg string
	r   Remedy
}

func (c *carrier) Error() string  { return c.msg }
func (c *carrier) Remedy() Remedy { return c.r }

func word(r Remedy) string { return fmt.Sprintf(" [%v %s]", r.Kind, r.Env) }

func TestMessage(t *testing.T) {
	tag := &carrier{"tag taken", Remedy{Kind: ForceTag}}
	lock := &carrier{"lock held", Remedy{Kind: WaitLock, Env: "prod"}}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"none", errors.New("plain"), "plain"},
		{"nil", nil, ""},
		{"bare", tag, "tag taken [ForceTag ]"},
		{"wrapped", fmt.Errorf("pushing: %w", tag), "pushing: tag taken [ForceTag ]"},
		{"in the middle", fmt.Errorf("pushing: %w, and more", tag), "pushing: tag taken [ForceTag ], and more"},
		{"joined", errors.Join(tag, lock), "tag taken [ForceTag ]\nlock held [WaitLock prod]"},
		{"With", With(fmt.Errorf("deploying: %w", errors.New("bad")), Remedy{Kind: ReasonToBreak, Env: "dev"}), "deploying: bad [ReasonToBreak dev]"},
		{"nested", With(fmt.Errorf("deploying: %w", lock), Remedy{Kind: SkipGate, Env: "dev"}), "deploying: lock held [WaitLock prod] [SkipGate dev]"},
		{"a kind of none", &carrier{"quiet", Remedy{}}, "quiet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Message(tt.err, word); got != tt.want {
				t.Errorf("Message = %q, want %q", got, tt.want)
			}
		})
	}
	if With(nil, Remedy{Kind: ForceTag}) != nil {
		t.Error("With(nil) is not nil")
	}
}

func TestOf(t *testing.T) {
	err := fmt.Errorf("a: %w", With(&carrier{"b", Remedy{Kind: WaitLock}}, Remedy{Kind: SkipGate}))
	if r, ok := Of(err); !ok || r.Kind != SkipGate {
		t.Errorf("Of = %v, %t; want the outermost, SkipGate", r.Kind, ok)
	}
	if _, ok := Of(errors.New("plain")); ok {
		t.Error("Of found a remedy in a plain error")
	}
}

func TestKindNames(t *testing.T) {
	if len(kindNames) != int(numKinds) {
		t.Errorf("%d kind names for %d kinds", len(kindNames), int(numKinds))
	}
	if PushOrPromote.String() != "PushOrPromote" || Kind(-1).String() != "Kind(-1)" {
		t.Errorf("String = %q, %q", PushOrPromote, Kind(-1))
	}
}
