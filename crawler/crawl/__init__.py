"""The Scrapy project, the only package that imports Scrapy/Twisted: settings, the spider, the requests and
items it exchanges, middlewares, pipelines (per item), the crawl context and the other extensions (per crawl),
the extraction pool and the runner of one crawl."""
