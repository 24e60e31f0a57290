package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/kumo-project/kumo/internal/agent/awslogs"
	"github.com/kumo-project/kumo/internal/config"
)

const logsUsage = `usage: kumo logs <service|task> [--follow] [--cluster C] [--since 1h] [--endpoint-url URL] [--region R]

Prints the awslogs output of a service's tasks (or of one task, by ID or ARN)
from CloudWatch Logs, oldest first; --follow keeps printing new events.
`

// logsCmd runs `kumo logs`.
func logsCmd(args []string) int {
	o, err := config.ParseLogs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kumo logs: %v\n\n%s", err, logsUsage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg := aws.Config{
		Region:       o.Region,
		Credentials:  credentials.NewStaticCredentialsProvider("kumo", "kumo", ""),
		BaseEndpoint: aws.String(o.Endpoint),
	}
	t := &tailer{ecs: ecs.NewFromConfig(cfg), logs: cwl.NewFromConfig(cfg), opts: o, out: os.Stdout, seen: map[string]bool{}}
	if err := t.run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "kumo logs:", err)
		return 1
	}
	return 0
}

// tailer prints the events of a service's or a task's log streams.
type tailer struct {
	ecs  *ecs.Client
	logs *cwl.Client
	opts config.Logs
	out  io.Writer

	start int64           // ms: events from here on
	seen  map[string]bool // event IDs printed at timestamp start
	// defs are the task definitions read so far: a revision never
	// changes, so --follow reads each once.
	defs map[string]*ecstypes.TaskDefinition
}

// pollInterval is how often --follow looks for new events.
const pollInterval = time.Second

func (t *tailer) run(ctx context.Context) error {
	if t.opts.Since > 0 {
		t.start = time.Now().Add(-t.opts.Since).UnixMilli()
	}
	for {
		streams, err := t.streams(ctx)
		if err != nil {
			return err
		}
		if err := t.printNew(ctx, streams); err != nil {
			return err
		}
		if !t.opts.Follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pollInterval):
		}
	}
}

// streams finds the log streams of the target's tasks, by log group.
func (t *tailer) streams(ctx context.Context) (map[string][]string, error) {
	tasks, err := t.tasks(ctx)
	if err != nil {
		return nil, err
	}
	byGroup := map[string][]string{}
	if t.defs == nil {
		t.defs = map[string]*ecstypes.TaskDefinition{}
	}
	for _, task := range tasks {
		arn := aws.ToString(task.TaskDefinitionArn)
		if t.defs[arn] == nil {
			out, err := t.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(arn)})
			if err != nil {
				return nil, err
			}
			t.defs[arn] = out.TaskDefinition
		}
		taskID := aws.ToString(task.TaskArn)
		taskID = taskID[strings.LastIndex(taskID, "/")+1:]
		for _, c := range t.defs[arn].ContainerDefinitions {
			lc := c.LogConfiguration
			if lc == nil || lc.LogDriver != ecstypes.LogDriverAwslogs || lc.Options[awslogs.OptStreamPrefix] == "" {
				continue // without a prefix the stream is named after the runtime ID
			}
			group := lc.Options[awslogs.OptGroup]
			byGroup[group] = append(byGroup[group], awslogs.StreamName(lc.Options[awslogs.OptStreamPrefix], aws.ToString(c.Name), taskID, ""))
		}
	}
	if len(byGroup) == 0 {
		return nil, fmt.Errorf("%s has no containers logging with awslogs and a stream prefix", t.opts.Target)
	}
	return byGroup, nil
}

// tasks are the target's tasks: a service's (running and stopped) or the
// one task named.
func (t *tailer) tasks(ctx context.Context) ([]ecstypes.Task, error) {
	cluster := aws.String(t.opts.Cluster)
	svc, err := t.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: cluster, Services: []string{t.opts.Target}})
	if err == nil && len(svc.Services) == 1 {
		var arns []string
		for _, status := range []ecstypes.DesiredStatus{ecstypes.DesiredStatusRunning, ecstypes.DesiredStatusStopped} {
			p := ecs.NewListTasksPaginator(t.ecs, &ecs.ListTasksInput{Cluster: cluster, ServiceName: svc.Services[0].ServiceName, DesiredStatus: status})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return nil, err
				}
				arns = append(arns, page.TaskArns...)
			}
		}
		return t.describeTasks(ctx, arns)
	}
	tasks, err := t.describeTasks(ctx, []string{t.opts.Target})
	if err != nil || len(tasks) == 0 {
		return nil, fmt.Errorf("no service or task %q in cluster %s", t.opts.Target, t.opts.Cluster)
	}
	return tasks, nil
}

func (t *tailer) describeTasks(ctx context.Context, arns []string) ([]ecstypes.Task, error) {
	var out []ecstypes.Task
	for len(arns) > 0 {
		n := min(len(arns), 100)
		res, err := t.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(t.opts.Cluster), Tasks: arns[:n]})
		if err != nil {
			return nil, err
		}
		out = append(out, res.Tasks...)
		arns = arns[n:]
	}
	return out, nil
}

// printedEvent is an event to print.
type printedEvent struct {
	ts      int64
	id      string
	stream  string
	message string
}

// printNew prints the events since the last call, in time order. Events of
// the last printed millisecond are remembered by ID, as `aws logs tail`
// does, so a poll starting at that millisecond repeats none.
func (t *tailer) printNew(ctx context.Context, byGroup map[string][]string) error {
	var events []printedEvent
	for group, streams := range byGroup {
		for len(streams) > 0 {
			n := min(len(streams), 100) // FilterLogEvents takes up to 100 names
			in := &cwl.FilterLogEventsInput{LogGroupName: aws.String(group), LogStreamNames: streams[:n], StartTime: aws.Int64(t.start)}
			p := cwl.NewFilterLogEventsPaginator(t.logs, in)
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return err
				}
				for _, e := range page.Events {
					events = append(events, printedEvent{aws.ToInt64(e.Timestamp), aws.ToString(e.EventId), aws.ToString(e.LogStreamName), aws.ToString(e.Message)})
				}
			}
			streams = streams[n:]
		}
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].ts < events[j].ts })
	for _, e := range events {
		if t.seen[e.id] {
			continue
		}
		if e.ts > t.start {
			t.start, t.seen = e.ts, map[string]bool{}
		}
		t.seen[e.id] = true
		ts := time.UnixMilli(e.ts).UTC().Format("2006-01-02T15:04:05.000Z")
		if _, err := fmt.Fprintf(t.out, "%s %s %s\n", ts, e.stream, strings.TrimSuffix(e.message, "\n")); err != nil {
			return err
		}
	}
	return nil
}
