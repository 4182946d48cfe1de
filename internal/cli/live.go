package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/term"
	"sigs.k8s.io/yaml"
)

// frameFunc renders one frame of a live view; done ends the view.
type frameFunc func(ctx context.Context) (frame string, done bool, err error)

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// useColor decides on colors: never with --no-color or $NO_COLOR, otherwise only on a terminal.
func useColor(out io.Writer, noColor bool) bool {
	return !noColor && os.Getenv("NO_COLOR") == "" && isTerminal(out)
}

// runLive shows frames until done, the context ends (--timeout, Ctrl-C) or the user quits.
// On a terminal it redraws in place with Bubble Tea (q or Ctrl-C quits, the last frame stays
// on screen); elsewhere it prints each frame that differs from the previous one, separated by
// a blank line, so logs and pipes get plain lines.
func runLive(ctx context.Context, in io.Reader, out io.Writer, interval time.Duration, render frameFunc) error {
	if !isTerminal(out) {
		return runPlain(ctx, out, interval, render)
	}
	var input io.Reader
	if isTerminal(in) {
		input = in
	}
	m := &liveModel{ctx: ctx, render: render, interval: interval}
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithOutput(out), tea.WithInput(input))
	_, err := p.Run()
	switch {
	case err != nil && errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil:
		return nil //nolint:nilerr // --timeout or a signal: the view just ends
	case err != nil:
		return fmt.Errorf("live view: %w", err)
	}
	return m.err
}

func runPlain(ctx context.Context, out io.Writer, interval time.Duration, render frameFunc) error {
	last := ""
	for first := true; ; first = false {
		frame, done, err := render(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil //nolint:nilerr // --timeout or a signal ended the view mid-request
			}
			return err
		}
		if frame != last {
			if !first {
				frame = "\n" + frame
			}
			if _, err := io.WriteString(out, frame); err != nil {
				return err
			}
			last = strings.TrimPrefix(frame, "\n")
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// liveModel is the Bubble Tea model of the live views: fetch a frame, show it, wait, repeat.
type liveModel struct {
	ctx      context.Context //nolint:containedctx // the fetches of a Bubble Tea program run in commands
	render   frameFunc
	interval time.Duration
	frame    string
	fetchErr error
	err      error
}

type frameMsg struct {
	frame string
	done  bool
	err   error
}

type tickMsg struct{}

func (m *liveModel) fetch() tea.Msg {
	frame, done, err := m.render(m.ctx)
	return frameMsg{frame: frame, done: done, err: err}
}

func (m *liveModel) Init() tea.Cmd { return m.fetch }

func (m *liveModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case frameMsg:
		m.fetchErr = msg.err
		if msg.err == nil {
			m.frame = msg.frame
		}
		if msg.done {
			return m, tea.Quit
		}
		return m, tea.Tick(m.interval, func(time.Time) tea.Msg { return tickMsg{} })
	case tickMsg:
		return m, m.fetch
	case tea.KeyPressMsg:
		switch msg.String() {
		case "q", "ctrl+c", "esc":
			return m, tea.Quit
		}
	}
	return m, nil
}

func (m *liveModel) View() tea.View {
	s := m.frame
	if m.fetchErr != nil {
		s += "\nerror (retrying): " + m.fetchErr.Error() + "\n"
	}
	return tea.NewView(s)
}

// show prints one frame, or with watch keeps showing frames (live on a terminal, plain when
// plain is set or out is not a terminal) until render says done, timeout passes (0 = never) or
// the context ends. get and list share it.
func show(ctx context.Context, in io.Reader, out io.Writer, watch bool, timeout, interval time.Duration, plain bool, render frameFunc) error {
	if !watch {
		frame, _, err := render(ctx)
		if err != nil {
			return err
		}
		_, err = io.WriteString(out, frame)
		return err
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if plain {
		return runPlain(ctx, out, interval, render)
	}
	return runLive(ctx, in, out, interval, render)
}

// encodeView is -o json|yaml of the get commands: the computed view as the output format says
// (the flag's values are checked before anything runs).
func encodeView(info any, format string) (string, error) {
	if format == "yaml" {
		b, err := yaml.Marshal(info)
		return "---\n" + string(b), err
	}
	b, err := json.MarshalIndent(info, "", "  ")
	return string(b) + "\n", err
}
