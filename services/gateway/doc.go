// Package gateway will take partners' authenticated pushes of outcome data
// and publish them into the observation stream. It has no code yet: partner
// pushes are the work of the gateway issue, and nothing here claims to
// accept them.
package gateway
