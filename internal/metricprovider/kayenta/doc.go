// Package kayenta runs Kayenta canary judgements, following Argo Rollouts' kayenta flow:
//
//  1. GET  <address>/canaryConfig?application=<app>&configurationAccountName=<acct> and pick
//     the config whose name is canaryConfigName;
//  2. POST <address>/canary/<configId>?application=…&metricsAccountName=…&
//     configurationAccountName=…&storageAccountName=… with
//     {"scopes": {<name>: {"controlScope": …, "experimentScope": …}}, "thresholds": {pass, marginal}};
//     the answer's canaryExecutionId is kept in the measurement's metadata and the measurement
//     is Running;
//  3. every 15 s, GET <address>/canary/<canaryExecutionId> until "complete" is true, then read
//     result.judgeResult.score.score.
//
// Kayenta judges: score >= pass is Successful, >= marginal Inconclusive, else Failed, and the
// measurement's value is the score. Conditions are not needed (Result.Phase is set). A scope
// without start uses the run's start (lookback) or now minus the metric's interval; without
// end, now. Argo looks the config up with storageAccountName as configurationAccountName;
// sluice sends configurationAccountName, as Kayenta documents. Kayenta has no Go client; this
// speaks its REST API with net/http, without authentication (as in Argo).
package kayenta
