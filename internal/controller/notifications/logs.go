package notifications

import (
	"fmt"
	"io"
	"sync"

	"github.com/go-logr/logr"
	"github.com/sirupsen/logrus"
)

var bridgeOnce sync.Once

// bridgeEngineLogs sends the notifications engine's warnings and errors (it logs through
// logrus' global logger, e.g. "config referenced '$token', but key does not exist in
// secret") to the controller's log, and drops its info and debug lines (one per trigger
// run and per HTTP request). Only the engine uses logrus in sluice.
func bridgeEngineLogs(log logr.Logger) {
	bridgeOnce.Do(func() {
		logrus.SetOutput(io.Discard)
		logrus.SetLevel(logrus.WarnLevel)
		logrus.AddHook(logrusHook{log: log.WithName("engine")})
	})
}

type logrusHook struct{ log logr.Logger }

func (logrusHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (h logrusHook) Fire(e *logrus.Entry) error {
	kv := make([]any, 0, 2*len(e.Data))
	for k, v := range e.Data {
		kv = append(kv, k, fmt.Sprint(v))
	}
	if e.Level <= logrus.ErrorLevel {
		h.log.Error(nil, e.Message, kv...)
	} else {
		h.log.Info(e.Message, kv...)
	}
	return nil
}
