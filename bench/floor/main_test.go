package main

import "testing"

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    ref
		wantErr bool
	}{
		{"127.0.0.1:5000/src/app:1.0", ref{"127.0.0.1:5000", "src/app", "1.0"}, false},
		{"localhost:5000/app:0.1.0-SNAPSHOT", ref{"localhost:5000", "app", "0.1.0-SNAPSHOT"}, false},
		{"127.0.0.1:5000/app", ref{}, true},
		{"app:1", ref{}, true},
	} {
		got, err := parse(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parse(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
