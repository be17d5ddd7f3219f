module github.com/ounce-data/ounce/schemas

go 1.26.8
