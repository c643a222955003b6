"""Labelled noise for the demo corpus: boilerplate pages, spam, gibberish, generated non-English
text, mojibake and near duplicates (the labels are described in :mod:`gristmill.demo.corpus`)."""
from __future__ import annotations

import random
import re
import string

_SITES = ["Northwind", "Bluebird", "Riverside", "Summit", "Oakleaf", "Harbor", "Maple", "Silverline",
          "Pinecrest", "Brightside", "Cedar", "Lakeview", "Redstone", "Greenfield", "Sunrise", "Ironbridge"]
_SITE_KINDS = ["Media", "Gardens", "Outfitters", "News", "Travel", "Kitchen", "Tech", "Studio", "Books",
               "Health", "Home", "Sports", "Pets", "Auto", "Finance", "Crafts"]
_NAV = ["Home", "About", "About Us", "Products", "Services", "Blog", "News", "Contact", "Contact Us", "Shop",
        "FAQ", "Support", "Careers", "Events", "Gallery", "Pricing", "Login", "Resources", "Press", "Stores"]
_TOPICS = ["Gardening", "Saving Money", "Your Morning Routine", "Remote Work", "Healthy Eating", "Travel on a Budget",
           "Home Office Setup", "Dog Training", "Better Sleep", "Small Business Marketing", "Running", "Baking Bread"]
_COOKIE = [
    "We use cookies to improve your experience on our site. By continuing to browse, you agree to our use of cookies.",
    "This website uses cookies to ensure you get the best experience. Accept all | Reject all | Manage preferences",
    "We and our partners use cookies and similar technologies to personalise content and ads. Cookie settings",
    "By clicking \"Accept\", you consent to the storing of cookies on your device. Learn more in our Cookie Policy.",
    "Our site uses cookies. Some are essential, others help us improve. OK, got it",
    "Cookies help us deliver our services. By using our services, you agree to our use of cookies. More info",
]
_BOILER_LINES = [
    "Skip to main content", "Toggle navigation", "Search...", "Menu", "Back to top", "Loading...",
    "Sign in | Register | My Account | Cart (0)", "Read more »", "Click here to continue reading",
    "Click here to subscribe to our newsletter and never miss an update!",
    "Share this: Facebook Twitter LinkedIn Email Print", "Follow us on Instagram, Facebook and YouTube",
    "Please enable JavaScript in your browser to view this page.", "JavaScript is disabled in your browser.",
    "Powered by WordPress", "Leave a comment", "You must be logged in to post a comment.",
    "Previous article | Next article", "Tags: news, updates, tips", "Advertisement", "Sponsored content",
    "Download our app", "Free shipping on orders over $50", "Click here", "View all", "Show more",
]
_FOOTER = ["Privacy Policy", "Terms of Use", "Cookie Settings", "Sitemap", "Accessibility", "Imprint",
           "Terms and Conditions", "Do Not Sell My Personal Information", "Contact", "Help Center"]


def _site(rng: random.Random) -> str:
    return f"{rng.choice(_SITES)} {rng.choice(_SITE_KINDS)}"


def boilerplate(rng: random.Random) -> str:
    site = _site(rng)
    lines = [rng.choice(["", "Skip to main content\n"]) + site]
    nav = rng.sample(_NAV, rng.randint(4, 9))
    lines += nav if rng.random() < 0.5 else [" | ".join(nav)]
    if rng.random() < 0.7:
        lines.append(rng.choice(_COOKIE))
    # At least 50 words, so that a length filter (Gopher's 50-word minimum) is not what catches it.
    target = rng.randint(50, 150)
    while sum(len(x.split()) for x in lines) < target:
        r = rng.random()
        if r < 0.2:
            lines.append("Related posts:")
            lines += [f"{rng.randint(3, 25)} Tips for {rng.choice(_TOPICS)}" for _ in range(rng.randint(2, 5))]
        elif r < 0.3:
            n = rng.randint(4, 40)
            lines.append(f"« Previous 1 2 3 … {n} Next »")
        elif r < 0.4:
            lines.append(f"Last updated: {rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(2009, 2024)}")
        else:
            lines.append(rng.choice(_BOILER_LINES))
    lines.append(" | ".join(rng.sample(_FOOTER, rng.randint(3, 6))))
    lines.append(f"© {rng.randint(2005, 2024)} {site}. All rights reserved.")
    return "\n".join(lines)


_SPAM_KW = ["cheap watches", "diet pills", "designer handbags", "crypto signals", "casino bonus", "payday loans",
            "work from home", "seo backlinks", "instagram followers", "essay writing service", "replica shoes",
            "free spins", "miracle supplement", "forex robot"]
_SPAM_SHOUT = ["BUY NOW", "LIMITED TIME OFFER", "ACT NOW", "100% FREE", "CLICK HERE", "DON'T MISS OUT",
               "BEST PRICE GUARANTEED", "ORDER TODAY", "EXCLUSIVE DEAL", "WIN BIG", "NO PRESCRIPTION NEEDED"]


def _spam_url(rng: random.Random, kw: str) -> str:
    host = rng.choice(["deals", "shop", "promo", "win", "best", "offers"])
    return f"http://{host}.example.com/{kw.replace(' ', '-')}?ref={rng.randint(1000, 99999)}"


def spam(rng: random.Random) -> str:
    kw = rng.choice(_SPAM_KW)
    parts: list[str] = []
    target = rng.randint(50, 220)
    while sum(len(x.split()) for x in parts) < target:
        r = rng.random()
        if r < 0.3:
            parts.append(" ".join(rng.choice([kw, f"best {kw}", f"cheap {kw}", f"buy {kw}", f"{kw} online",
                                              f"{kw} discount"]) for _ in range(rng.randint(3, 8))))
        elif r < 0.55:
            parts.append(f"{rng.choice(_SPAM_SHOUT)}{'!' * rng.randint(1, 6)} {kw.upper()} "
                         f"{rng.randint(50, 95)}% OFF{'!' * rng.randint(2, 5)}")
        elif r < 0.75:
            parts.append(f"Visit {_spam_url(rng, kw)} {rng.choice(['now', 'today', 'NOW'])}{'!' * rng.randint(1, 4)}")
        elif r < 0.9:
            parts.append(f"Make ${rng.randint(2, 20) * 500} a week from home with {kw}!!! "
                         f"No experience needed{'!' * rng.randint(1, 3)}")
        else:
            parts.append(f"{rng.choice(_SPAM_SHOUT)} {rng.choice(_SPAM_SHOUT)} {rng.choice(_SPAM_SHOUT)}"
                         f"{'!' * rng.randint(3, 8)}")
    sep = rng.choice([" ", "\n", " *** "])
    return sep.join(parts)


_KEY_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890"]


def gibberish(rng: random.Random) -> str:
    kind = rng.randrange(3)
    n = rng.randint(50, 180)
    words = []
    for _ in range(n):
        if kind == 0:  # random letter strings
            words.append("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 11))))
        elif kind == 1:  # keyboard mashing: runs along one row of the keyboard
            row = rng.choice(_KEY_ROWS[:3])
            i = rng.randrange(len(row))
            w = []
            for _ in range(rng.randint(3, 10)):
                i = min(max(i + rng.choice([-2, -1, 1, 1, 2]), 0), len(row) - 1)
                w.append(row[i])
            words.append("".join(w))
        else:  # symbol noise
            alphabet = string.ascii_letters + string.digits + "#$%&*+/<=>@^_~"
            words.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9))))
    if kind == 0:  # some strings pretend to be sentences
        for i in range(rng.randint(5, 12), n, rng.randint(6, 14)):
            words[i] += "."
    return " ".join(words)


# A small grammar per language; noun phrases carry their own article, so agreement is always right.
# Phrases start lowercase and are capitalised at the start of a sentence (German nouns keep capitals).
_GRAMMAR = {
    "de": {
        "subj": ["der alte Mann", "die junge Frau", "das kleine Kind", "mein Nachbar", "unsere Lehrerin",
                 "der Bäcker", "die Ärztin", "meine Schwester", "der Hund", "die Katze", "das Mädchen",
                 "der Student", "die Regierung", "der Bürgermeister", "die Firma", "mein Großvater"],
        "vt": ["liest", "kauft", "sieht", "findet", "schreibt", "öffnet", "sucht", "braucht", "bringt",
               "verkauft", "repariert", "bezahlt"],
        "obj": ["einen langen Brief", "das neue Buch", "die Zeitung", "einen schönen Garten", "den roten Wagen",
                "eine warme Suppe", "das alte Haus", "die Rechnung", "einen kurzen Bericht", "das Fenster",
                "eine Tasse Kaffee", "den Schlüssel", "frisches Brot", "ein Geschenk für die Familie"],
        "vi": ["arbeitet", "wartet", "schläft", "wohnt", "singt", "lacht", "spielt", "bleibt"],
        "time": ["heute Morgen", "am Abend", "jeden Tag", "im Winter", "am Wochenende", "oft", "manchmal",
                 "morgen früh", "nach der Arbeit", "seit Jahren"],
        "place": ["in der Stadt", "im Garten", "auf dem Markt", "in der Küche", "am Bahnhof", "im Büro",
                  "zu Hause", "in der Bibliothek", "neben dem Fluss", "bei den Nachbarn"],
        "say": ["sagt", "glaubt", "erzählt", "weiß"], "that": "dass",
        "conn": ["außerdem", "danach", "trotzdem", "deshalb", "leider"],
    },
    "fr": {
        "subj": ["le vieil homme", "la jeune femme", "mon voisin", "notre professeur", "le boulanger",
                 "la directrice", "ma sœur", "le chien", "l'enfant", "l'étudiante", "le gouvernement",
                 "le maire", "l'entreprise", "mon grand-père", "la voisine", "le médecin"],
        "vt": ["lit", "achète", "regarde", "trouve", "écrit", "ouvre", "cherche", "prépare", "vend",
               "apporte", "répare", "paie"],
        "obj": ["une longue lettre", "le nouveau livre", "le journal", "un beau jardin", "la voiture rouge",
                "une soupe chaude", "la vieille maison", "la facture", "un court rapport", "la fenêtre",
                "une tasse de café", "les clés", "du pain frais", "un cadeau pour la famille"],
        "vi": ["travaille", "attend", "dort", "habite", "chante", "rit", "joue", "reste"],
        "time": ["ce matin", "le soir", "chaque jour", "en hiver", "le week-end", "souvent", "parfois",
                 "demain matin", "après le travail", "depuis des années"],
        "place": ["en ville", "dans le jardin", "au marché", "dans la cuisine", "à la gare", "au bureau",
                  "à la maison", "à la bibliothèque", "près de la rivière", "chez les voisins"],
        "say": ["dit", "pense", "raconte", "sait"], "that": "que",
        "conn": ["ensuite", "de plus", "pourtant", "c'est pourquoi", "malheureusement"],
    },
    "es": {
        "subj": ["el anciano", "la joven", "mi vecino", "nuestra profesora", "el panadero", "la médica",
                 "mi hermana", "el perro", "el niño", "la estudiante", "el gobierno", "el alcalde", "la empresa",
                 "mi abuelo", "la vecina", "el cartero"],
        "vt": ["lee", "compra", "mira", "encuentra", "escribe", "abre", "busca", "prepara", "vende", "trae",
               "repara", "paga"],
        "obj": ["una carta larga", "el libro nuevo", "el periódico", "un jardín bonito", "el coche rojo",
                "una sopa caliente", "la casa vieja", "la factura", "un informe breve", "la ventana",
                "una taza de café", "las llaves", "pan fresco", "un regalo para la familia"],
        "vi": ["trabaja", "espera", "duerme", "vive", "canta", "se ríe", "juega", "se queda"],
        "time": ["esta mañana", "por la noche", "cada día", "en invierno", "el fin de semana", "a menudo",
                 "a veces", "mañana temprano", "después del trabajo", "desde hace años"],
        "place": ["en la ciudad", "en el jardín", "en el mercado", "en la cocina", "en la estación",
                  "en la oficina", "en casa", "en la biblioteca", "cerca del río", "con los vecinos"],
        "say": ["dice", "cree", "cuenta", "sabe"], "that": "que",
        "conn": ["además", "después", "sin embargo", "por eso", "por desgracia"],
    },
}


LANGUAGES = tuple(sorted(_GRAMMAR))  # the generated non-English languages (ISO 639-1)


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _sentence(lang: str, rng: random.Random) -> str:
    g = _GRAMMAR[lang]
    c = rng.choice
    subj, vt, obj, time, place = c(g["subj"]), c(g["vt"]), c(g["obj"]), c(g["time"]), c(g["place"])
    kind = rng.randrange(5)
    if lang == "de":  # verb second; verb last in a "dass" clause
        if kind == 0:
            return f"{cap(subj)} {vt} {time} {obj} {place}."
        if kind == 1:
            return f"{cap(time)} {c(g['vi'])} {subj} {place}."
        if kind == 2:
            return f"{cap(subj)} {c(g['say'])}, dass {c(g['subj'])} {obj} {vt}."
        if kind == 3:
            return f"{cap(vt)} {subj} {obj} {place}?"
        return f"{cap(c(g['conn']))} {vt} {subj} {obj}."
    if kind == 0:
        return f"{cap(subj)} {vt} {obj} {place} {time}."
    if kind == 1:
        return f"{cap(time)}, {subj} {c(g['vi'])} {place}."
    if kind == 2:
        return f"{cap(subj)} {c(g['say'])} {g['that']} {c(g['subj'])} {vt} {obj}."
    if kind == 3:
        if lang == "fr":
            return f"Est-ce que {subj} {vt} {obj} {place} ?"
        return f"¿{cap(vt)} {subj} {obj} {place}?"
    return f"{cap(c(g['conn']))}, {subj} {vt} {obj}."


def non_english(rng: random.Random, lang: str) -> str:
    paras: list[str] = []
    target, words = rng.randint(50, 250), 0
    while words < target:
        para = " ".join(_sentence(lang, rng) for _ in range(rng.randint(3, 8)))
        paras.append(para)
        words += len(para.split())
    return "\n\n".join(paras)



_CP1252 = [bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256)]


def typographic(text: str) -> str:
    text = re.sub(r"(\w)'(\w)", "\\1\u2019\\2", text)
    text = re.sub(r'"([^"\n]{1,80})"', "\u201c\\1\u201d", text)
    text = text.replace(" -- ", " \u2014 ").replace("...", "\u2026")
    if text.isascii():  # still nothing to garble: give it one real-world dash
        text = text.replace(", ", " \u2014 ", 1) if ", " in text else text + " \u2014 end."
    return text


def mojibake(text: str) -> str:
    return "".join(_CP1252[b] for b in text.encode("utf-8"))


def _shingles(text: str, n: int = 5) -> set:
    w = text.lower().split()
    return {tuple(w[i:i + n]) for i in range(max(1, len(w) - n + 1))}


def jaccard(a: str, b: str) -> float:
    sa, sb = _shingles(a), _shingles(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def near_dup(text: str, rng: random.Random) -> str:
    parts = re.split(r"(\s+)", text)  # words at even positions, whitespace kept as it was
    words = [i for i in range(0, len(parts), 2) if parts[i]]
    vocab = [parts[i] for i in words]
    for _ in range(max(1, round(len(words) * rng.uniform(0.005, 0.03)))):
        i = rng.choice(words)
        op = rng.randrange(4)
        if op == 0:
            parts[i] = rng.choice(vocab)
        elif op == 1:
            parts[i] = ""
            if i + 1 < len(parts):
                parts[i + 1] = ""
        elif op == 2:
            parts[i] = f"{parts[i]} {rng.choice(vocab)}"
        else:
            j = words[min(words.index(i) + 1, len(words) - 1)]
            parts[i], parts[j] = parts[j], parts[i]
    out = "".join(parts)
    if out == text:  # every edit happened to be a no-op (same word substituted, last word swapped)
        i = rng.choice(words)
        out = "".join(parts[:i] + parts[i + 2:])
    return out


# ---------------------------------------------------------------------------------------------
# Assembly


