package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

func TestLiveModel(t *testing.T) {
	n := 0
	m := &liveModel{ctx: t.Context(), interval: time.Millisecond, render: func(context.Context) (string, bool, error) {
		n++
		if n == 2 {
			return "", false, errors.New("connection refused")
		}
		return fmt.Sprintf("frame %d\n", n), n == 3, nil
	}}
	msg := m.Init()()
	if _, cmd := m.Update(msg); cmd == nil {
		t.Fatal("no tick after the first frame")
	}
	if v := m.View().Content; v != "frame 1\n" {
		t.Errorf("view %q", v)
	}
	m.Update(m.fetch()) // the error keeps the last frame and says so
	if v := m.View().Content; v != "frame 1\n\nerror (retrying): connection refused\n" {
		t.Errorf("view after an error %q", v)
	}
	if _, cmd := m.Update(m.fetch()); cmd == nil {
		t.Fatal("done frame: want tea.Quit")
	} else if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Errorf("done frame: cmd gives %T, want tea.QuitMsg", cmd())
	}
	if _, cmd := m.Update(tea.KeyPressMsg{Code: 'q', Text: "q"}); cmd == nil {
		t.Error("q does not quit")
	}
}

func TestRunPlainPrintsChanges(t *testing.T) {
	frames := []string{"a\n", "a\n", "b\n", "c\n"}
	i := 0
	var out bytes.Buffer
	err := runPlain(t.Context(), &out, time.Millisecond, func(context.Context) (string, bool, error) {
		f := frames[i]
		i++
		return f, i == len(frames), nil
	})
	if err != nil || out.String() != "a\n\nb\n\nc\n" {
		t.Errorf("runPlain: %v, %q", err, out.String())
	}
}
