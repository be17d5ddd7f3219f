module github.com/ounce-data/ounce/services/ounce

go 1.26.8

replace (
	github.com/ounce-data/ounce/pkg => ../../pkg
	github.com/ounce-data/ounce/schemas => ../../schemas
)
