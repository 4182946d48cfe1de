package view

import (
	"strings"

	"charm.land/lipgloss/v2"
)

// Icons, as in Argo Rollouts' kubectl plugin, so the tree reads the same.
const (
	IconOK          = "✔"
	IconBad         = "✖"
	IconProgressing = "◌"
	IconPaused      = "॥"
	IconNeutral     = "•"
	IconUnknown     = "?"
	IconRollout     = "⟳"
	IconRevision    = "#"
	IconReplicaSet  = "⧉"
	IconPod         = "□"
)

// Options control rendering.
type Options struct {
	// Color adds ANSI colors (phases and statuses); off for pipes, files and --no-color.
	Color bool
}

var (
	styleGreen  = lipgloss.NewStyle().Foreground(lipgloss.Green)
	styleYellow = lipgloss.NewStyle().Foreground(lipgloss.Yellow)
	styleRed    = lipgloss.NewStyle().Foreground(lipgloss.Red)
	styleGray   = lipgloss.NewStyle().Foreground(lipgloss.BrightBlack)
	styleBold   = lipgloss.NewStyle().Bold(true)
)

// paint renders s with the style for status when colors are on.
func (o Options) paint(status, s string) string {
	if !o.Color || s == "" {
		return s
	}
	switch status {
	case "Healthy", "Running", "Succeeded", "Completed", "Successful":
		return styleGreen.Render(s)
	case "Progressing", "Pending", "ContainerCreating", "Terminating", "Paused", "Inconclusive":
		return styleYellow.Render(s)
	case "Degraded", "Failed", "Error", "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "warning":
		return styleRed.Render(s)
	case "ScaledDown", "faint":
		return styleGray.Render(s)
	case "bold":
		return styleBold.Render(s)
	}
	return s
}

// statusIcon is the icon for a phase or pod/ReplicaSet status.
func statusIcon(status string) string {
	switch status {
	case "Healthy", "Running", "Succeeded", "Completed":
		return IconOK
	case "Progressing", "Pending", "ContainerCreating", "Terminating":
		return IconProgressing
	case "Paused":
		return IconPaused
	case "Degraded", "Failed", "Error", "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull":
		return IconBad
	case "ScaledDown":
		return IconNeutral
	}
	return IconUnknown
}

// columns aligns cells into left-aligned columns separated by two spaces, measuring the
// display width (ANSI colors and wide runes included). Trailing spaces are trimmed.
func columns(rows [][]string) []string {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], lipgloss.Width(c))
		}
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-lipgloss.Width(c)+2))
			}
		}
		out = append(out, strings.TrimRight(b.String(), " "))
	}
	return out
}
