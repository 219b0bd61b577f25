"""Scrapy settings of the ai4s crawler: polite by default.

Every value here can be overridden per run with ``ai4s crawl -s NAME=VALUE`` (or
``scrapy crawl news -s NAME=VALUE``). The ``AI4S_*`` settings are the product's own.
"""

BOT_NAME = "ai4s-monitor"
SPIDER_MODULES = ["crawler.crawl.spiders"]
NEWSPIDER_MODULE = "crawler.crawl.spiders"

# Operators should add a contact: -s USER_AGENT="ai4s-monitor/0.1 (+mailto:you@example.org)".
USER_AGENT = "ai4s-monitor/0.1 (news monitoring of AI for Science coverage; Scrapy)"

# -- politeness --------------------------------------------------------------------------
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0.25
DOWNLOAD_DELAY_JITTER = 0.5  # ±50% of the delay, so requests do not tick like a clock
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
# A response yields one item at most: a few concurrent items per response are plenty.
CONCURRENT_ITEMS = 8
DOWNLOAD_TIMEOUT = 20
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
# A body shorter or longer than its Content-Length is a failed fetch, never a page (Scrapy's default, relied on).
DOWNLOAD_FAIL_ON_DATALOSS = True
REDIRECT_MAX_TIMES = 5
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # no listening control server: a crawl is driven by its command line
# Host names are judged by the address they resolve to, when the crawl connects (crawler.crawl.addresses).
TWISTED_DNS_RESOLVER = "crawler.crawl.addresses.PolicyResolver"

# -- retries with backoff (see crawler.crawl.middlewares.BackoffRetryMiddleware) ----------------
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
AI4S_RETRY_BACKOFF_BASE = 1.0  # seconds before the first retry; doubled for each further one
AI4S_RETRY_BACKOFF_MAX = 30.0
# A 429/503 with Retry-After pauses its whole host (crawler.crawl.hosts); pauses longer than this in all (one
# wait, or many short ones) leave the host to the next crawl (its entry pages are not polled before the deadline,
# its article URLs are tried again).
AI4S_RETRY_AFTER_MAX = 60.0
# robots.txt Crawl-delay is honoured per host up to this many seconds (a site asking for more gets this).
AI4S_CRAWL_DELAY_MAX = 30.0
# The downloader whose host slots also wait for Retry-After and Crawl-delay.
DOWNLOADER = "crawler.crawl.hosts.PoliteDownloader"

# Non-2xx responses reach the spider's errback, which records them.
HTTPERROR_ALLOW_ALL = False

DOWNLOADER_MIDDLEWARES = {
    # robots.txt as RFC 9309 says: unreachable (5xx, no answer) means disallow, not allow
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.crawl.robots.StrictRobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.crawl.middlewares.BackoffRetryMiddleware": 550,
    # the address policy (see crawler.crawl.addresses): every URL first; a lookup it emptied is a refusal,
    # turned so before the retries (550) see it
    "crawler.crawl.addresses.AddressPolicyMiddleware": 50,
    "crawler.crawl.addresses.ResolvedAddressMiddleware": 560,
    # a compressed body cut short or failing its checksum is a failed fetch (Scrapy keeps what it could read)
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "crawler.crawl.bodies.StrictHttpCompressionMiddleware": 590,
    # on the way back: redirects (600), decompression (590), counting (585: every response, 304s and
    # retried ones included), conditional GET (580), then retries (550)
    "crawler.crawl.middlewares.SourceStatsMiddleware": 585,
    # a redirect looked at before Scrapy's (600) follows it: loops and the most redirects fail the request
    "crawler.crawl.middlewares.RedirectChainMiddleware": 610,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.crawl.middlewares.HeadMetaRefreshMiddleware": 580,
    "crawler.crawl.middlewares.ConditionalGetMiddleware": 580,
}
EXTENSIONS = {
    # one per crawl: the configuration, the database, the run row (see crawler.crawl.context)
    "crawler.crawl.context.CrawlContext": 100,
    "crawler.crawl.watchdog.ParentWatchdog": 500,
}
SPIDER_MIDDLEWARES = {
    "crawler.crawl.middlewares.KnownUrlFilterMiddleware": 700,
    "crawler.crawl.middlewares.SourceBudgetMiddleware": 650,
    "crawler.crawl.middlewares.PendingRetryMiddleware": 750,
    # last before the engine: only article requests that will be sent claim their URL (crawler.crawl.claims)
    "crawler.crawl.claims.UrlClaimMiddleware": 600,
}
ITEM_PIPELINES = {
    "crawler.crawl.pipelines.ExtractPipeline": 300,
    "crawler.crawl.pipelines.StorePipeline": 800,
}
# Requests that differ only in tracking parameters, fragments or host case are one request.
REQUEST_FINGERPRINTER_CLASS = "crawler.crawl.middlewares.CanonicalUrlFingerprinter"

# -- crawl shape --------------------------------------------------------------------------
DEPTH_LIMIT = 0  # depth is bounded per source (max_depth in sources.toml), not globally
AI4S_MAX_PAGINATION = 10  # listing pages followed through "next page" links, per listing
AI4S_MAX_SITEMAP_DEPTH = 3  # nesting of sitemap indexes
# A source whose feeds/sitemaps fail or go stale falls back to its site's robots.txt sitemaps and homepage
# listings (crawler/crawl/fallback.py); False only logs and counts it (for comparison, benchmarks/source_fallback.py).
AI4S_FALLBACK = True

# -- the product ------------------------------------------------------------------------
# The crawl's configuration (crawler.config.Config): set by the runner (`ai4s crawl`, the daemon's
# crawls). Without it (`scrapy crawl news -s AI4S_DB=...`) the crawl context builds one from the
# four settings below, then the environment (AI4S_DB, AI4S_SOURCES_FILE, AI4S_TOPICS_FILE).
AI4S_CONFIG = None
AI4S_SOURCES_FILE = None  # default: seeds/sources.toml
AI4S_SOURCE_NAMES: list[str] = []  # default: every source in the file
AI4S_DB = None  # default: $AI4S_DB, else a SQLite file in the user's data directory
AI4S_TOPICS_FILE = None  # default: seeds/topics.toml
AI4S_EXTRACT_WORKERS = 0  # extraction processes; 0 = one per CPU core
# CPU seconds a page's extraction may take (0 = no limit): a hostile page (a 7 MB page of links takes about a
# minute) is an extraction_error beyond it, tried again up to AI4S_MAX_ARTICLE_ATTEMPTS; its worker is ended at
# twice that, where the page holds it in C code
AI4S_EXTRACT_CPU_LIMIT = 20.0
AI4S_MAX_ARTICLE_ATTEMPTS = 5  # an article URL that failed (5xx, network) is tried again up to this many times
AI4S_HONOUR_POLL_HINTS = True  # Retry-After and a feed's ttl / sy:updatePeriod delay the next poll of that page
AI4S_RUN_ID = None  # set by the daemon: the crawl-run row it created for this crawl
AI4S_PARENT_PID = None  # set by the daemon: the crawl closes itself when that process is gone
# Many crawl processes on one PostgreSQL (crawler.crawl.exclusive, crawler.crawl.claims):
AI4S_HOST_LOCK_WAIT = 600.0  # seconds a crawl waits for a host another crawl (of another source) is on
AI4S_URL_CLAIM_TTL = 900.0  # seconds an article URL claimed by a crawl stays its own if the crawl dies

LOG_LEVEL = "INFO"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
