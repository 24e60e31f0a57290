package awslogs

import (
	"testing"
)

func TestParseOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    map[string]string
		wantErr bool
		check   func(t *testing.T, o Options)
	}{
		{"minimal", map[string]string{"awslogs-group": "/ecs/web"}, false, func(t *testing.T, o Options) {
			if o.Group != "/ecs/web" || o.CreateGroup || o.NonBlocking || o.MaxBufferSize != 1<<20 || o.StartPattern != nil {
				t.Errorf("options = %+v", o)
			}
		}},
		{"everything", map[string]string{"awslogs-group": "g", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "web",
			"awslogs-create-group": "true", "mode": "non-blocking", "max-buffer-size": "4m", "awslogs-multiline-pattern": `^\S`}, false,
			func(t *testing.T, o Options) {
				if o.Region != "eu-west-1" || o.StreamPrefix != "web" || !o.CreateGroup || !o.NonBlocking || o.MaxBufferSize != 4<<20 || o.StartPattern.String() != `^\S` {
					t.Errorf("options = %+v", o)
				}
			}},
		{"datetime format wins over the pattern", map[string]string{"awslogs-group": "g", "awslogs-datetime-format": `\[%Y-%m-%d %H:%M:%S\]`, "awslogs-multiline-pattern": "x"}, false,
			func(t *testing.T, o Options) {
				if !o.StartPattern.MatchString("[2024-05-01 12:30:59] boom") || o.StartPattern.MatchString("\tat x") || o.StartPattern.MatchString("x") {
					t.Errorf("pattern %s", o.StartPattern)
				}
			}},
		{"no group", map[string]string{"awslogs-region": "us-east-1"}, true, nil},
		{"bad create-group", map[string]string{"awslogs-group": "g", "awslogs-create-group": "yes please"}, true, nil},
		{"bad mode", map[string]string{"awslogs-group": "g", "mode": "fast"}, true, nil},
		{"bad size", map[string]string{"awslogs-group": "g", "max-buffer-size": "lots"}, true, nil},
		{"bad pattern", map[string]string{"awslogs-group": "g", "awslogs-multiline-pattern": "("}, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, err := ParseOptions(tc.opts)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if tc.check != nil {
				tc.check(t, o)
			}
		})
	}
}

func TestStrftimeToRegexp(t *testing.T) {
	t.Parallel()
	tests := []struct{ format, want string }{
		{`%Y-%m-%d`, `\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[1,2][0-9]|3[0,1])`},
		{`%H:%M:%S%L %z`, `(?:[0,1][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.\d{3} [+-]\d{4}`},
		{`100%% %Q`, `100%% %Q`},
		{`%`, `%`},
	}
	for _, tc := range tests {
		if got := StrftimeToRegexp(tc.format); got != tc.want {
			t.Errorf("StrftimeToRegexp(%q) = %q, want %q", tc.format, got, tc.want)
		}
	}
}

func TestStreamName(t *testing.T) {
	t.Parallel()
	if got := StreamName("web", "app", "abc123", "abc123-app"); got != "web/app/abc123" {
		t.Errorf("with prefix: %q", got)
	}
	if got := StreamName("", "app", "abc123", "abc123-app"); got != "abc123-app" {
		t.Errorf("without prefix: %q", got)
	}
}
