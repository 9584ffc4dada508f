// Package handler calls the endpoint's client connect handler (the AWS
// Lambda stand-in): a local command that reads the request JSON on stdin and
// prints the response JSON on stdout, or an HTTP URL that receives the
// request as a POST. Calls are synchronous and bounded (30 s by default);
// every failure maps to one of the AWS connection-log failure reasons and
// denies the connection.
package handler
