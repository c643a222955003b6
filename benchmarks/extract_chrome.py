"""Real text wrapped in real-world page chrome: the blog, news, forum and shop families of ``bench_extract.py``.

The main text of every page is real (State of the Union addresses, Moby Dick chapters, Brown corpus samples,
nlp-corpus sentences, from ``../shared/corpora/fetch``) and is the page's ground truth. Around it go the
parts of real sites that extractors must drop, modelled on the markup of common templates:

- blog: WordPress twentytwenty/twentyseventeen (comments as ``<article class="comment-body">`` inside the
  post's ``<article>`` or ``<main>``), Blogger-style div layouts; widget sidebars, comment threads and forms;
- news: a mega-menu header, byline, share bar, "Advertisement" slots and "Read more" links inside the body,
  related-article cards (each an ``<article>`` on many sites), "most read" lists, newsletter boxes;
- forum: phpBB/Discourse-like threads (all posts are the content; profiles, signatures, "who is online",
  "similar topics" and jump menus are not);
- shop: product pages (the description is the content; price box, options, "customers also bought"
  carousels, shipping blurbs and footer link columns are not).

Every page also gets a cookie banner (OneTrust, CookieYes/GDPR Cookie Consent or a plain notice) at the start
or end of ``<body>``. Each template comes in three markup styles (HTML5 landmarks, div soup with the usual
ids/classes, and a mix), picked per page from a seeded RNG so the families are reproducible.
"""
from __future__ import annotations

import html
import json
import random
import re
from pathlib import Path

FIRST = ["Maria", "James", "Wei", "Fatima", "Oliver", "Priya", "Lucas", "Ana", "Kenji", "Chloe", "Omar", "Sofia",
         "Daniel", "Aisha", "Mateo", "Emma", "Noah", "Hannah", "Ivan", "Grace", "Tomás", "Leila", "Sam", "Ruth"]
LAST = ["Garcia", "Smith", "Chen", "Khan", "Brown", "Patel", "Silva", "Novak", "Tanaka", "Martin", "Haddad",
        "Rossi", "Kowalski", "Okafor", "Jensen", "Dubois", "Nguyen", "Murphy", "Schmidt", "Cohen"]
USERS = ["greywolf42", "sailor_moon", "bytefiddler", "old_salt", "quietriver", "tinkerer", "kestrel", "mapleleaf",
         "nightowl77", "dr_dunno", "pixelpusher", "harborlights", "marrow", "fen_runner", "zeta9", "lurker_no_more"]
TOP_NAV = ["Home", "News", "World", "Politics", "Business", "Tech", "Science", "Health", "Sports", "Entertainment",
           "Style", "Travel", "Opinion", "Video", "Podcasts", "Weather", "Local", "Education", "Climate", "Markets"]
BLOG_NAV = ["Home", "About", "Blog", "Recipes", "Travel", "Books", "Projects", "Archive", "Contact", "Newsletter",
            "Shop", "Resources", "Start Here", "Portfolio", "Speaking"]
SHOP_NAV = ["New In", "Women", "Men", "Kids", "Home & Living", "Kitchen", "Garden", "Electronics", "Books",
            "Toys & Games", "Sports & Outdoors", "Beauty", "Gift Cards", "Sale", "Brands", "Best Sellers"]
SUBCATS = ["Dresses", "Tops", "Jeans", "Shoes", "Bags", "Accessories", "Jackets", "Knitwear", "Cookware", "Bedding",
           "Lighting", "Rugs", "Laptops", "Headphones", "Cameras", "Fiction", "Cookbooks", "Puzzles", "Running",
           "Camping", "Skincare", "Fragrance", "Furniture", "Storage", "Tableware", "Smart Home", "Audio"]
FOOTER_COLS = {
    "Company": ["About Us", "Careers", "Press", "Investors", "Sustainability", "Affiliates"],
    "Help": ["Customer Service", "Track My Order", "Returns & Exchanges", "Shipping Information", "FAQ", "Contact Us"],
    "Legal": ["Privacy Policy", "Terms of Use", "Cookie Policy", "Accessibility", "Do Not Sell My Personal Information",
              "Sitemap"],
    "Follow us": ["Facebook", "Instagram", "Twitter", "YouTube", "Pinterest", "RSS"],
}
COOKIE_TEXTS = [
    "We use cookies and similar technologies to recognize your repeat visits and preferences, as well as to measure "
    "the effectiveness of campaigns and analyze traffic. To learn more about cookies, including how to disable them, "
    "view our Cookie Policy. By clicking \u201cI Accept\u201d on this banner, or using our site, you consent to the use "
    "of cookies unless you have disabled them.",
    "This website uses cookies to improve your experience while you navigate through the website. Out of these, the "
    "cookies that are categorized as necessary are stored on your browser as they are essential for the working of "
    "basic functionalities of the website. We also use third-party cookies that help us analyze and understand how "
    "you use this website.",
    "We and our partners store and/or access information on a device, such as cookies, and process personal data, "
    "such as unique identifiers and standard information sent by a device for personalised ads and content, ad and "
    "content measurement, and audience insights, as well as to develop and improve products. With your permission "
    "we and our partners may use precise geolocation data and identification through device scanning.",
]
COMMENT_FORM = ("<h3 id=\"reply-title\" class=\"comment-reply-title\">Leave a Reply <small><a rel=\"nofollow\" "
                "id=\"cancel-comment-reply-link\" href=\"#respond\">Cancel reply</a></small></h3>"
                "<form action=\"/wp-comments-post.php\" method=\"post\" id=\"commentform\" class=\"comment-form\">"
                "<p class=\"comment-notes\"><span id=\"email-notes\">Your email address will not be published.</span> "
                "Required fields are marked <span class=\"required\">*</span></p><p class=\"comment-form-comment\">"
                "<label for=\"comment\">Comment <span class=\"required\">*</span></label><textarea id=\"comment\" "
                "name=\"comment\" cols=\"45\" rows=\"8\" required></textarea></p><p class=\"comment-form-author\">"
                "<label for=\"author\">Name <span class=\"required\">*</span></label><input id=\"author\" "
                "name=\"author\" type=\"text\"></p><p class=\"comment-form-email\"><label for=\"email\">Email "
                "<span class=\"required\">*</span></label><input id=\"email\" name=\"email\" type=\"email\"></p>"
                "<p class=\"comment-form-cookies-consent\"><input id=\"wp-comment-cookies-consent\" type=\"checkbox\">"
                "<label for=\"wp-comment-cookies-consent\">Save my name, email, and website in this browser for the "
                "next time I comment.</label></p><p class=\"form-submit\"><input name=\"submit\" type=\"submit\" "
                "id=\"submit\" class=\"submit\" value=\"Post Comment\"></p></form>")
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
SENT = re.compile(r"(?<=[.!?])\s+(?=[\"'A-Z])")
STYLES = ("html5", "divs", "mixed")


def _load(corpora: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in open(corpora / f"{name}.jsonl", encoding="utf-8")]


def _paragraphs(text: str, rng: random.Random) -> list[str]:
    """Paragraphs of a corpus text: its blank-line breaks, else groups of 2-6 sentences."""
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    if len(paras) > 1:
        return paras
    sents = SENT.split(" ".join(text.split()))
    out, i = [], 0
    while i < len(sents):
        k = rng.randint(2, 6)
        out.append(" ".join(sents[i:i + k]))
        i += k
    return out


def _take_words(paras: list[str], lo: int, hi: int, rng: random.Random) -> list[str]:
    budget, out = rng.randint(lo, hi), []
    start = rng.randrange(max(1, len(paras) - 3))
    for p in paras[start:] + paras[:start]:
        out.append(p)
        budget -= len(p.split())
        if budget <= 0:
            break
    return out


def _headline(text: str, rng: random.Random) -> str:
    words = SENT.split(" ".join(text.split()))[0].split()
    return " ".join(words[:rng.randint(5, 11)]).rstrip(",;:.") if words else "Untitled"


def _e(s: str) -> str:
    return html.escape(s, quote=False)


def _date(rng: random.Random) -> str:
    return f"{rng.choice(MONTHS)} {rng.randint(1, 28)}, {rng.randint(2009, 2025)}"


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


class _Pool:
    """Real text for the content and for the chrome (teasers, comments), drawn without reuse per page."""

    def __init__(self, corpora: Path, rng: random.Random):
        self.rng = rng
        self.docs = [d["text"] for n in ("sotu", "mobydick", "brown", "sentences") for d in _load(corpora, n)]
        self.sentences = [s for d in _load(corpora, "sentences") for s in SENT.split(" ".join(d["text"].split()))
                          if 4 <= len(s.split()) <= 60]

    def doc(self) -> str:
        return self.rng.choice(self.docs)

    def sents(self, lo: int, hi: int) -> str:
        return " ".join(self.rng.choice(self.sentences) for _ in range(self.rng.randint(lo, hi)))


def _ul(items: list[str], rng: random.Random, cls: str = "", prefix: str = "/") -> str:
    c = f' class="{cls}"' if cls else ""
    lis = "".join(f'<li class="menu-item"><a href="{prefix}{re.sub(r"[^a-z]+", "-", x.lower())}">{_e(x)}</a></li>'
                  for x in items)
    return f"<ul{c}>{lis}</ul>"


def _cookie(rng: random.Random) -> str:
    text = _e(rng.choice(COOKIE_TEXTS))
    kind = rng.randrange(3)
    if kind == 0:
        return ('<div id="onetrust-consent-sdk"><div class="onetrust-pc-dark-filter ot-hide"></div>'
                '<div id="onetrust-banner-sdk" class="otFlat" tabindex="0" role="region" aria-label="Cookie banner">'
                f'<div class="ot-sdk-container"><div class="ot-sdk-row"><div id="onetrust-group-container">'
                f'<div id="onetrust-policy"><h2 id="onetrust-policy-title">We value your privacy</h2>'
                f'<div id="onetrust-policy-text">{text} <a href="/privacy" class="ot-cookie-policy-link">More '
                'information</a></div></div></div><div id="onetrust-button-group-parent"><div id="onetrust-button-group">'
                '<button id="onetrust-pc-btn-handler">Cookie Settings</button><button id="onetrust-reject-all-handler">'
                'Reject All</button><button id="onetrust-accept-btn-handler">Accept All Cookies</button></div></div>'
                '</div></div></div></div>')
    if kind == 1:
        return ('<div id="cookie-law-info-bar" data-nosnippet="true" class="cli-bar-container cli-style-v2">'
                f'<div class="cli-bar-message">{text}</div><div class="cli-bar-btn_container">'
                '<a role="button" class="cli_settings_button">Cookie Settings</a>'
                '<a role="button" id="cookie_action_close_header_reject" class="cookie_action_close_header_reject">'
                'Reject All</a><a role="button" id="cookie_action_close_header" class="cli_action_button">Accept All'
                '</a></div></div>')
    return (f'<div class="cookie-notice" id="cookie-notice" role="dialog" aria-live="polite"><p>{text}</p>'
            '<p><a href="/cookies">Learn more</a> <button type="button" class="accept">Got it!</button></p></div>')


def _footer(rng: random.Random, style: str, site: str) -> str:
    cols = "".join(f'<div class="footer-col"><h4>{_e(k)}</h4>{_ul(v, rng)}</div>'
                   for k, v in rng.sample(list(FOOTER_COLS.items()), rng.randint(2, 4)))
    legal = (f'<p class="copyright">\u00a9 {rng.randint(2015, 2025)} {_e(site)}. All rights reserved. '
             'Reproduction in whole or in part without permission is prohibited.</p>')
    tag = "footer" if style != "divs" else 'div id="footer" class="site-footer"'
    return f'<{tag}>{cols}{legal}</{tag.split()[0]}>'


def _header(rng: random.Random, style: str, site: str, nav_items: list[str], mega: bool) -> str:
    items = rng.sample(nav_items, rng.randint(min(6, len(nav_items)), len(nav_items)))
    if mega:
        lis = "".join(f'<li class="menu-item has-children"><a href="/{i}">{_e(x)}</a>'
                      f'{_ul(rng.sample(SUBCATS, rng.randint(3, 8)), rng, "sub-menu")}</li>' for i, x in enumerate(items))
        menu = f'<ul class="menu">{lis}</ul>'
    else:
        menu = _ul(items, rng, "menu")
    search = ('<form role="search" class="search-form" action="/search"><label><span class="screen-reader-text">'
              'Search for:</span><input type="search" placeholder="Search \u2026" name="s"></label>'
              '<button type="submit">Search</button></form>')
    account = '<div class="account"><a href="/login">Sign in</a> <a href="/subscribe">Subscribe</a></div>'
    if style == "divs":
        return (f'<div id="header"><div class="logo"><a href="/">{_e(site)}</a></div><div id="menu" class="menu-main">'
                f'{menu}</div>{search}{account}</div>')
    return (f'<header id="site-header" class="site-header"><div class="site-branding"><a href="/" rel="home">'
            f'{_e(site)}</a></div><nav id="site-navigation" class="primary-navigation" aria-label="Primary menu">'
            f'{menu}</nav>{search}{account}</header>')


def _page(title: str, site: str, body: str, rng: random.Random) -> str:
    cookie = _cookie(rng)
    body = cookie + body if rng.random() < 0.5 else body + cookie
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)} | {_e(site)}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="stylesheet" href="/assets/style.css"><script>window.dataLayer=window.dataLayer||[];'
            'function gtag(){dataLayer.push(arguments);}gtag("js",new Date());</script></head>'
            f'<body class="single">{body}<script src="/assets/app.js"></script></body></html>')


def _body_html(paras: list[str]) -> str:
    return "".join(f"<p>{_e(p)}</p>" for p in paras)


def blog_page(pool: _Pool, rng: random.Random, style: str) -> tuple[str, str]:
    paras = _take_words(_paragraphs(pool.doc(), rng), 150, 1200, rng)
    title = _headline(paras[0], rng)
    site = rng.choice(["The Quiet Kitchen", "Wandering Notes", "Margins & Footnotes", "Slow Roads", "Field Journal"])
    author, date = _name(rng), _date(rng)
    meta = (f'<div class="entry-meta"><span class="byline">By <a href="/author/x">{_e(author)}</a></span> '
            f'<span class="posted-on"><time>{date}</time></span> <span class="comments-link"><a href="#comments">'
            f'{rng.randint(2, 40)} Comments</a></span></div>')
    tags = ('<div class="entry-footer"><span class="cat-links">Posted in ' +
            ", ".join(f'<a href="/c/{c}" rel="category tag">{_e(c)}</a>' for c in rng.sample(SUBCATS, 2)) +
            '</span> <span class="tags-links">Tagged ' +
            ", ".join(f'<a href="/t/{t}" rel="tag">{_e(t.lower())}</a>' for t in rng.sample(BLOG_NAV + SUBCATS, 4)) +
            '</span></div>')
    share = ('<div class="sharedaddy"><h3 class="sd-title">Share this:</h3><ul><li><a class="share-twitter" '
             'href="#">Twitter</a></li><li><a class="share-facebook" href="#">Facebook</a></li><li><a '
             'class="share-email" href="#">Email</a></li><li><a class="share-print" href="#">Print</a></li></ul>'
             '<div class="sd-like">Like this:<span>Like</span> Loading...</div></div>')
    postnav = (f'<nav class="navigation post-navigation" aria-label="Posts"><div class="nav-previous"><a href="/p">'
               f'<span class="meta-nav">Previous Post</span> {_e(_headline(pool.doc(), rng))}</a></div>'
               f'<div class="nav-next"><a href="/n"><span class="meta-nav">Next Post</span> '
               f'{_e(_headline(pool.doc(), rng))}</a></div></nav>')
    comments = []
    for i in range(rng.randint(2, 12)):
        text = pool.sents(1, 5)
        inner = (f'<footer class="comment-meta"><div class="comment-author vcard"><b class="fn">{_e(_name(rng))}</b> '
                 f'<span class="says">says:</span></div><div class="comment-metadata"><a href="#c{i}"><time>{_date(rng)} '
                 f'at {rng.randint(1, 12)}:{rng.randint(10, 59)} pm</time></a></div></footer><div class="comment-content">'
                 f'<p>{_e(text)}</p></div><div class="reply"><a rel="nofollow" class="comment-reply-link" href="#">'
                 'Reply</a></div>')
        comments.append(f'<li id="comment-{i}" class="comment"><article class="comment-body">{inner}</article></li>'
                        if style != "divs" else f'<div class="comment" id="comment-{i}"><div class="comment-body">'
                        f'{inner}</div></div>')
    n = len(comments)
    ctag = "ol" if style != "divs" else "div"
    comments_html = (f'<div id="comments" class="comments-area"><h2 class="comments-title">{n} thoughts on '
                     f'\u201c{_e(title)}\u201d</h2><{ctag} class="comment-list">{"".join(comments)}</{ctag}>'
                     f'<div id="respond" class="comment-respond">{COMMENT_FORM}</div></div>')
    recent = _ul([_headline(pool.doc(), rng) for _ in range(5)], rng)
    archives = _ul([f"{rng.choice(MONTHS)} {rng.randint(2012, 2025)}" for _ in range(rng.randint(6, 18))], rng)
    cats = "".join(f'<li><a href="/c/{c}">{_e(c)}</a> ({rng.randint(1, 60)})</li>' for c in rng.sample(SUBCATS, 8))
    about = f'<p>{_e(pool.sents(2, 3))}</p>'
    widgets = (f'<section class="widget widget_text"><h2 class="widget-title">About me</h2>{about}</section>'
               f'<section class="widget widget_recent_entries"><h2 class="widget-title">Recent Posts</h2>{recent}</section>'
               f'<section class="widget widget_archive"><h2 class="widget-title">Archives</h2>{archives}</section>'
               f'<section class="widget widget_categories"><h2 class="widget-title">Categories</h2><ul>{cats}</ul></section>'
               '<section class="widget widget_subscribe"><h2 class="widget-title">Subscribe via Email</h2><p>Enter your '
               'email address to subscribe to this blog and receive notifications of new posts by email.</p><form>'
               '<input type="email"><button>Subscribe</button></form></section>')
    content = f'<div class="entry-content">{_body_html(paras)}</div>'
    head = f'<header class="entry-header"><h1 class="entry-title">{_e(title)}</h1>{meta}</header>'
    if style == "html5":  # twentytwenty: comments inside the post's <article>
        main = (f'<main id="site-content" role="main"><article class="post type-post">{head}{content}{tags}{share}'
                f'{postnav}<div class="comments-wrapper">{comments_html}</div></article></main>'
                f'<aside id="secondary" class="widget-area">{widgets}</aside>')
    elif style == "mixed":  # twentyseventeen: comments after the article, inside <main>
        main = (f'<div id="content" class="site-content"><div id="primary" class="content-area"><main id="main" '
                f'class="site-main"><article class="post">{head}{content}{tags}</article>{share}{postnav}'
                f'{comments_html}</main></div><aside id="secondary" class="widget-area" role="complementary">'
                f'{widgets}</aside></div>')
    else:  # Blogger-style div layout
        main = (f'<div id="outer-wrapper"><div id="main-wrapper"><div class="post hentry"><h3 class="post-title '
                f'entry-title">{_e(title)}</h3>{meta}<div class="post-body entry-content">{_body_html(paras)}</div>'
                f'{tags}{share}</div>{postnav}{comments_html}</div><div id="sidebar-wrapper">{widgets}</div></div>')
    body = _header(rng, style, site, BLOG_NAV, False) + main + _footer(rng, style, site)
    return _page(title, site, body, rng), title + "\n\n" + "\n\n".join(paras)


def news_page(pool: _Pool, rng: random.Random, style: str) -> tuple[str, str]:
    paras = _take_words(_paragraphs(pool.doc(), rng), 200, 1500, rng)
    title = _headline(paras[0], rng)
    site = rng.choice(["The Daily Ledger", "Metro Herald", "Global Wire", "The Evening Post", "Coastal Times"])
    byline = (f'<div class="byline"><span class="author">By <a href="/by/x">{_e(_name(rng))}</a> and '
              f'<a href="/by/y">{_e(_name(rng))}</a></span><time class="timestamp">Updated {rng.randint(1, 12)}:'
              f'{rng.randint(10, 59)} PM EST, {_date(rng)}</time></div>')
    share = ('<div class="share-bar"><a href="#">Share on Facebook</a><a href="#">Share on Twitter</a>'
             '<a href="#">Share via Email</a><a href="#">Copy link</a><button>Save article</button></div>')
    body_parts = []
    for i, p in enumerate(paras):
        body_parts.append(f'<p class="paragraph">{_e(p)}</p>')
        if i % 4 == 2 and rng.random() < 0.7:
            body_parts.append(f'<p class="read-more"><strong>Read more:</strong> <a href="/r">'
                              f'{_e(_headline(pool.doc(), rng))}</a></p>')
        if i % 5 == 3:
            body_parts.append('<div class="ad-slot" aria-hidden="true"><span class="ad-label">Advertisement</span>'
                              '<div id="div-gpt-ad-mid"></div></div>')
    cards = []
    for _ in range(rng.randint(3, 8)):
        head, teaser = _e(_headline(pool.doc(), rng)), _e(pool.sents(1, 2))
        inner = (f'<a href="/story" class="card-link"><h3 class="card-headline">{head}</h3></a>'
                 f'<p class="card-teaser">{teaser}</p><span class="card-time">{rng.randint(2, 23)} hours ago</span>')
        cards.append(f'<article class="card">{inner}</article>' if style != "divs" else f'<div class="card">{inner}</div>')
    related = f'<section class="related-articles"><h2>Related</h2>{"".join(cards)}</section>'
    most_read = ('<div class="most-read"><h2>Most Read</h2><ol>' +
                 "".join(f'<li><a href="/m">{_e(_headline(pool.doc(), rng))}</a></li>' for _ in range(5)) + '</ol></div>')
    newsletter = ('<div class="newsletter-signup"><h3>The Morning Briefing</h3><p>Get the day\u2019s top stories, '
                  'handpicked by our editors, delivered to your inbox every weekday morning. You may unsubscribe '
                  'at any time.</p><form><input type="email" placeholder="Email address"><button>Sign up</button>'
                  '</form></div>')
    ticker = (f'<div class="breaking-news"><span>Breaking</span> <a href="/b">{_e(_headline(pool.doc(), rng))}</a></div>')
    story = f'<h1 class="headline">{_e(title)}</h1>{byline}{share}<div class="article-body">{"".join(body_parts)}</div>'
    if style == "html5":
        main = (f'{ticker}<main id="main-content"><article class="story">{story}</article>{related}</main>'
                f'<aside class="rail">{most_read}{newsletter}</aside>')
    elif style == "mixed":  # related cards are <article>s too, and the rail sits inside <main>
        main = (f'{ticker}<main><div class="layout"><article class="story">{story}{newsletter}</article>'
                f'<div class="rail">{most_read}</div></div>{related}</main>')
    else:
        main = (f'{ticker}<div id="content" class="container"><div class="story-body">{story}</div>{newsletter}'
                f'<div class="sidebar">{most_read}</div>{related}</div>')
    body = _header(rng, style, site, TOP_NAV, True) + main + _footer(rng, style, site)
    return _page(title, site, body, rng), title + "\n\n" + "\n\n".join(paras)


def forum_page(pool: _Pool, rng: random.Random, style: str) -> tuple[str, str]:
    doc_paras = _paragraphs(pool.doc(), rng)
    title = _headline(doc_paras[0], rng)
    site = rng.choice(["Harbour Town Forums", "The Workshop Board", "Ask the Crowd", "Riverside Community"])
    n_posts = rng.randint(2, 9)
    posts_text = [_take_words(doc_paras, 60, 400, rng)] + [
        _take_words(_paragraphs(pool.doc(), rng), 20, 200, rng) for _ in range(n_posts - 1)]
    posts = []
    for i, paras in enumerate(posts_text):
        user = rng.choice(USERS)
        profile = (f'<dl class="postprofile"><dt><a href="/u/{user}" class="username">{user}</a></dt>'
                   f'<dd class="profile-rank">{rng.choice(["Member", "Regular", "Moderator", "New member"])}</dd>'
                   f'<dd><strong>Posts:</strong> {rng.randint(1, 9999):,}</dd><dd><strong>Joined:</strong> '
                   f'{_date(rng)}</dd><dd><strong>Location:</strong> {rng.choice(["Leeds", "Ohio", "Lyon", "Perth"])}</dd></dl>')
        head = (f'<h3><a href="#p{i}">{"Re: " if i else ""}{_e(title)}</a></h3><p class="author">by '
                f'<strong>{user}</strong> \u00bb {_date(rng)} {rng.randint(1, 12)}:{rng.randint(10, 59)} am</p>')
        buttons = ('<ul class="post-buttons"><li><a href="#" title="Quote">Quote</a></li><li><a href="#" '
                   'title="Report">Report</a></li></ul>')
        motto = rng.choice(["Measure twice, cut once.", "Sent from my phone.", "All opinions are my own.", "Not a lawyer."])
        sig = f'<div class="signature">{_e(motto)}</div>' if rng.random() < 0.6 else ""
        text = "".join(f"{_e(p)}<br><br>" for p in paras)
        postbody = f'<div class="postbody">{buttons}{head}<div class="content">{text}</div>{sig}</div>'
        if style == "html5":  # Discourse-like
            posts.append(f'<article class="topic-post" id="post_{i}"><div class="topic-avatar">{profile}</div>'
                         f'{postbody}<div class="post-controls"><button>Like</button><button>Reply</button></div></article>')
        else:
            posts.append(f'<div id="p{i}" class="post bg{i % 2 + 1}"><div class="inner">{postbody}{profile}'
                         '<div class="back2top"><a href="#top" class="top" title="Top">Top</a></div></div></div>')
    crumbs = ('<ul id="nav-breadcrumbs" class="breadcrumbs"><li><a href="/">Board index</a></li><li>'
              f'<a href="/f/1">{_e(rng.choice(SUBCATS))}</a></li><li><a href="/f/2">{_e(rng.choice(SUBCATS))}</a></li></ul>')
    pager = (f'<div class="pagination">{n_posts} posts \u2022 Page <strong>1</strong> of {rng.randint(1, 5)} '
             '<ul><li class="active"><span>1</span></li><li><a href="?start=10">2</a></li><li class="next">'
             '<a href="?start=10">Next</a></li></ul></div>')
    actions = ('<div class="action-bar"><a href="/post" class="button">Post Reply</a> <a href="#" class="button">'
               'Topic Tools</a> <form class="search-box"><input placeholder="Search this topic\u2026"></form></div>')
    similar = ('<div class="similar-topics"><h3>Similar topics</h3><table><tbody>' +
               "".join(f'<tr><td><a href="/t">{_e(_headline(pool.doc(), rng))}</a><br>by {rng.choice(USERS)} \u00bb '
                       f'{_date(rng)}</td><td>{rng.randint(0, 40)} Replies</td><td>{rng.randint(10, 9000)} Views</td></tr>'
                       for _ in range(rng.randint(3, 6))) + '</tbody></table></div>')
    online = (f'<div class="stat-block online-list"><h3>Who is online</h3><p>Users browsing this forum: '
              f'{", ".join(rng.sample(USERS, 2))} and {rng.randint(1, 30)} guests</p></div>')
    jump = ('<div class="jumpbox"><span>Jump to</span><ul class="dropdown-contents">' +
            "".join(f'<li><a href="/f">{_e(c)}</a></li>' for c in rng.sample(SUBCATS, 12)) + '</ul></div>')
    topic = f'<h2 class="topic-title"><a href="/t">{_e(title)}</a></h2>{actions}{pager}{"".join(posts)}{actions}{pager}'
    if style == "html5":
        main = f'<main id="main-outlet"><div class="topic-body">{crumbs}{topic}</div>{similar}</main>{jump}{online}'
    else:
        main = f'<div id="page-body" class="page-body">{crumbs}{topic}{jump}{similar}{online}</div>'
    body = _header(rng, style, site, ["Forums", "FAQ", "Rules", "Members", "Search", "Register", "Login"], False) + main
    body += _footer(rng, style, site)
    ref = title + "\n\n" + "\n\n".join("\n\n".join(p) for p in posts_text)
    return _page(title, site, body, rng), ref


def shop_page(pool: _Pool, rng: random.Random, style: str) -> tuple[str, str]:
    paras = _take_words(_paragraphs(pool.doc(), rng), 80, 600, rng)
    title = _headline(paras[0], rng)
    site = rng.choice(["Northwind Goods", "Cedar & Co.", "Bramble Home", "Kite Outfitters", "Lumen Store"])
    price = f"${rng.randint(5, 400)}.{rng.choice(['00', '49', '95', '99'])}"
    crumbs = ('<nav class="breadcrumb" aria-label="breadcrumb"><ol><li><a href="/">Home</a></li>' +
              "".join(f'<li><a href="/c">{_e(c)}</a></li>' for c in rng.sample(SUBCATS, 2)) + f'<li>{_e(title)}</li></ol></nav>')
    buybox = (f'<div class="product-info"><h1 class="product-title">{_e(title)}</h1><div class="rating">'
              f'<span class="stars">{rng.choice(["4.5", "4.7", "3.9", "4.2"])} out of 5 stars</span> '
              f'<a href="#reviews">{rng.randint(3, 900)} reviews</a></div><div class="price"><span class="amount">'
              f'{price}</span> <span class="tax">incl. VAT</span></div><form class="cart"><label>Size</label>'
              '<select><option>Small</option><option>Medium</option><option>Large</option></select><label>Quantity'
              '</label><input type="number" value="1"><button class="add-to-cart">Add to Cart</button>'
              '<button class="wishlist">Add to Wishlist</button></form><ul class="usp"><li>Free shipping on orders '
              'over $50</li><li>Free 30-day returns</li><li>Order by 2pm for next-day delivery</li></ul>'
              f'<div class="sku">SKU: {rng.randint(100000, 999999)} <span>Category: <a href="/c">'
              f'{_e(rng.choice(SUBCATS))}</a></span></div></div>')
    gallery = ('<div class="product-gallery">' + "".join(f'<img src="/img/{i}.jpg" alt="Product image {i + 1}">'
                                                         for i in range(rng.randint(2, 6))) + '</div>')
    desc = (f'<div class="tabs"><ul class="tab-titles"><li class="active"><a href="#tab-description">Description</a></li>'
            f'<li><a href="#tab-additional">Additional information</a></li><li><a href="#reviews">Reviews</a></li></ul>'
            f'<div class="tab-panel" id="tab-description"><h2>Description</h2>{_body_html(paras)}</div>'
            '<div class="tab-panel" id="tab-additional" hidden><table class="attributes"><tr><th>Weight</th><td>'
            f'{rng.randint(1, 9)}.{rng.randint(0, 9)} kg</td></tr><tr><th>Dimensions</th><td>{rng.randint(10, 90)} '
            f'\u00d7 {rng.randint(10, 90)} \u00d7 {rng.randint(2, 30)} cm</td></tr></table></div></div>')

    def carousel(name: str) -> str:
        items = "".join(f'<li class="product"><a href="/p"><img src="/i.jpg" alt=""><h3>{_e(_headline(pool.doc(), rng))}'
                        f'</h3></a><span class="price">${rng.randint(5, 300)}.99</span><a class="button" href="?add">'
                        'Add to cart</a></li>' for _ in range(rng.randint(4, 8)))
        return f'<section class="{name.lower().replace(" ", "-")}"><h2>{name}</h2><ul class="products">{items}</ul></section>'
    also = carousel("Customers also bought") + carousel(rng.choice(["Recently viewed", "You may also like"]))
    newsletter = ('<div class="newsletter"><h3>Get 10% off your first order</h3><p>Join our mailing list for new '
                  'arrivals, exclusive offers and style inspiration.</p><form><input type="email"><button>Join'
                  '</button></form></div>')
    if style == "html5":
        main = f'<main id="main">{crumbs}<div class="product">{gallery}{buybox}{desc}</div>{also}</main>{newsletter}'
    elif style == "mixed":
        main = (f'<main>{crumbs}<article class="product">{gallery}{buybox}{desc}</article>{also}{newsletter}</main>')
    else:
        main = f'<div id="content">{crumbs}<div class="product-page">{gallery}{buybox}{desc}</div>{also}{newsletter}</div>'
    body = _header(rng, style, site, SHOP_NAV, True) + main + _footer(rng, style, site)
    return _page(title, site, body, rng), title + "\n\n" + "\n\n".join(paras)


TEMPLATES = {"blog": blog_page, "news": news_page, "forum": forum_page, "shop": shop_page}


def chrome_pages(corpora: Path, per_family: int = 90, seed: int = 20261129) -> dict[str, list[dict]]:
    out = {}
    for fam, make in TEMPLATES.items():
        rng = random.Random(f"{seed}-{fam}")
        pool = _Pool(corpora, rng)
        docs = []
        for i in range(per_family):
            style = STYLES[i % len(STYLES)]
            page, ref = make(pool, rng, style)
            docs.append({"id": f"{fam}-{style}-{i}", "html": page, "reference": ref})
        out[fam] = docs
    return out
