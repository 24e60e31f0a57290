package cloudwatchwire

import (
	"encoding/json"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/kumo-project/kumo/internal/protocol"
)

// putMetricDataForm is PutMetricData as botocore 1.43.11's Query serializer
// writes it (aws CLI 2.9 and boto3 1.26 still send CloudWatch this way).
const putMetricDataForm = "Action=PutMetricData&Version=2010-08-01&Namespace=App&MetricData.member.1.MetricName=Latency&MetricData.member.1.Dimensions.member.1.Name=Service&MetricData.member.1.Dimensions.member.1.Value=web&MetricData.member.1.Timestamp=2026-01-02T03%3A04%3A05Z&MetricData.member.1.Values.member.1=1.5&MetricData.member.1.Values.member.2=2.0&MetricData.member.1.Counts.member.1=3&MetricData.member.1.Counts.member.2=1&MetricData.member.1.Unit=Milliseconds&MetricData.member.1.StorageResolution=1&MetricData.member.2.MetricName=Hits&MetricData.member.2.Value=7&MetricData.member.2.StatisticValues.SampleCount=2&MetricData.member.2.StatisticValues.Sum=7&MetricData.member.2.StatisticValues.Minimum=3&MetricData.member.2.StatisticValues.Maximum=4"

func wantPutMetricData() *PutMetricDataInput {
	f := func(v float64) *float64 { return &v }
	resolution := int32(1)
	return &PutMetricDataInput{
		Namespace: "App",
		MetricData: []MetricDatum{
			{
				MetricName: "Latency",
				Dimensions: []Dimension{{Name: "Service", Value: "web"}},
				Timestamp:  protocol.NewTimestamp(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
				Values:     []float64{1.5, 2}, Counts: []float64{3, 1},
				Unit: "Milliseconds", StorageResolution: &resolution,
			},
			{MetricName: "Hits", Value: f(7), StatisticValues: &StatisticSet{SampleCount: f(2), Sum: f(7), Minimum: f(3), Maximum: f(4)}},
		},
	}
}

func TestPutMetricDataFromQuery(t *testing.T) {
	t.Parallel()
	form, err := url.ParseQuery(putMetricDataForm)
	if err != nil {
		t.Fatal(err)
	}
	var in PutMetricDataInput
	if err := protocol.DecodeQuery(form, &in); err != nil {
		t.Fatal(err)
	}
	var v protocol.Validator
	in.Validate(&v, "")
	if err := v.Err("InvalidParameterValue"); err != nil {
		t.Error(err)
	}
	if want := wantPutMetricData(); !reflect.DeepEqual(&in, want) {
		t.Errorf("got  %+v\nwant %+v", in, want)
	}
}

// The same input arrives as JSON 1.0 from current botocore; both decode
// into one struct.
func TestPutMetricDataFromJSON(t *testing.T) {
	t.Parallel()
	body := `{"Namespace":"App","MetricData":[{"MetricName":"Latency","Dimensions":[{"Name":"Service","Value":"web"}],
		"Timestamp":1767323045,"Values":[1.5,2.0],"Counts":[3,1],"Unit":"Milliseconds","StorageResolution":1},
		{"MetricName":"Hits","Value":7,"StatisticValues":{"SampleCount":2,"Sum":7,"Minimum":3,"Maximum":4}}]}`
	var in PutMetricDataInput
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	if want := wantPutMetricData(); !reflect.DeepEqual(&in, want) {
		t.Errorf("got  %+v\nwant %+v", in, want)
	}
}
