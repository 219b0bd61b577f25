"""The spiders of the Scrapy project (``SPIDER_MODULES``): the one generic news spider, ``news``."""
