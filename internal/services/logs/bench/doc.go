// Package bench holds end-to-end benchmarks of the logs engine: the store,
// filter patterns and Insights together over a million events, side by
// side with grep -c over the same text as the floor.
//
//	go test ./internal/services/logs/bench -run XXX -bench . -benchtime 3x
package bench
