"""The Scrapy project, the only package that imports Scrapy/Twisted: settings, spiders, middlewares,
pipelines (per item), extensions (per crawl), the extraction pool and the runner of one crawl."""
