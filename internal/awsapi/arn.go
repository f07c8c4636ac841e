package awsapi

import (
	"errors"
	"fmt"
	"strings"
)

// LambdaFunction is a Lambda function named by an integration URI.
type LambdaFunction struct {
	// ARN is the function ARN, with a version or alias qualifier if given.
	ARN string
	// Region is the function's region, from the ARN.
	Region string
}

// IsLambdaURI reports whether uri looks like a Lambda integration URI
// rather than a URL.
func IsLambdaURI(uri string) bool { return strings.HasPrefix(uri, "arn:") }

// ParseLambdaURI accepts the two forms API Gateway takes for AWS_PROXY:
//
//	arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
//	arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations
func ParseLambdaURI(uri string) (LambdaFunction, error) {
	if rest, ok := strings.CutPrefix(uri, "arn:"); ok {
		parts := strings.SplitN(rest, ":", 5)
		if len(parts) == 5 && parts[1] == "apigateway" {
			// arn:aws:apigateway:REGION:lambda:path/...: "lambda" stands where
			// the account would.
			const pfx, sfx = "path/2015-03-31/functions/", "/invocations"
			p := parts[4]
			if parts[3] != "lambda" || !strings.HasPrefix(p, pfx) || !strings.HasSuffix(p, sfx) || len(p) <= len(pfx)+len(sfx) {
				return LambdaFunction{}, fmt.Errorf("not a Lambda invocation URI: want arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations")
			}
			return parseFunctionARN(p[len(pfx) : len(p)-len(sfx)])
		}
	}
	return parseFunctionARN(uri)
}

func parseFunctionARN(arn string) (LambdaFunction, error) {
	// arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
	parts := strings.Split(arn, ":")
	if len(parts) < 7 || len(parts) > 8 || parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "function" {
		return LambdaFunction{}, errors.New("not a Lambda function ARN: want arn:aws:lambda:REGION:ACCOUNT:function:NAME")
	}
	if parts[1] == "" || parts[3] == "" || parts[4] == "" || parts[6] == "" || len(parts) == 8 && parts[7] == "" {
		return LambdaFunction{}, errors.New("the Lambda function ARN has an empty partition, region, account or name")
	}
	return LambdaFunction{ARN: arn, Region: parts[3]}, nil
}
