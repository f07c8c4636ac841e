module github.com/switchboardgw/switchboard

go 1.26.8

require (
	github.com/tidwall/gjson v1.20.0
	go.yaml.in/yaml/v3 v3.0.6
)

require (
	github.com/aws/aws-lambda-go v1.55.1 // indirect
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.2.0 // indirect
)
