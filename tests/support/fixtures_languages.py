"""Small clean documents in Chinese, Japanese, Thai and German (prose written for these tests, one
paragraph per line as extracted web text has it), and junk made from them: the same line repeated,
shuffled words in short unpunctuated lines, and a menu of short labels."""
from __future__ import annotations

import random

CLEAN = {
    "zh": [
        "这座城市的图书馆位于老城区的中心，每周开放六天。\n"
        "读者每次可以借阅五本书，借期为两周。如果需要延长借期，可以在网上办理续借手续。\n"
        "阅览室里有很多宽大的桌子和明亮的台灯，许多学生放学以后在这里做作业。\n"
        "图书馆还经常为儿童举办讲故事的活动，家长们也很喜欢带孩子来参加。\n"
        "去年，图书馆收到了一批捐赠的旧书，其中有一些是一百多年前出版的珍贵版本。\n"
        "工作人员正在对这些书进行整理和修复，预计明年春天向公众展出。",
        "河流从山区流向平原，沿途经过许多村庄和农田。\n"
        "春天的时候，河水因为雪山融化而上涨，农民们利用河水灌溉田地。\n"
        "夏天雨水较多，有时会发生洪水，所以政府在河的两岸修建了高大的堤坝。\n"
        "到了秋天，河水变得清澈，很多人喜欢在河边散步和钓鱼。\n"
        "近年来，当地居民开始重视保护河流的生态环境，禁止向河里排放污水。\n"
        "现在，河里的鱼比十年前多了很多，鸟类也重新回到了河边的树林里。",
    ],
    "ja": [
        "この町の図書館は旧市街の中心にあり、週に六日開いています。\n"
        "利用者は一度に五冊まで本を借りることができ、貸出期間は二週間です。\n"
        "閲覧室には大きな机と明るい電気スタンドがあり、多くの学生が放課後にここで宿題をしています。\n"
        "図書館では子ども向けの読み聞かせ会もよく開かれ、親たちにも人気があります。\n"
        "昨年、図書館には寄贈された古い本がたくさん届き、その中には百年以上前に出版された貴重な本もありました。\n"
        "職員はそれらの本を整理して修理しており、来年の春に一般に公開する予定です。",
        "川は山から平野へ流れ、途中で多くの村や田畑を通ります。\n"
        "春になると雪が解けて川の水が増え、農家の人たちはその水を田んぼに使います。\n"
        "夏は雨が多く、時々洪水が起きるので、川の両岸には高い堤防が作られました。\n"
        "秋になると川の水は澄んで、川沿いを散歩したり釣りをしたりする人が増えます。\n"
        "最近では、地元の住民が川の自然を守ることに関心を持つようになり、汚れた水を流すことが禁止されました。\n"
        "今では川の魚が十年前よりずっと多くなり、鳥たちも川辺の林に戻ってきています。",
    ],
    "th": [
        "ห้องสมุดประจำเมืองตั้งอยู่ใจกลางเมืองเก่า และเปิดให้บริการสัปดาห์ละหกวัน "
        "ผู้อ่านสามารถยืมหนังสือได้ครั้งละห้าเล่ม เป็นเวลาสองสัปดาห์ "
        "หากต้องการยืมต่อก็สามารถทำได้ทางอินเทอร์เน็ต\n"
        "ในห้องอ่านหนังสือมีโต๊ะขนาดใหญ่และโคมไฟที่ให้แสงสว่างเพียงพอ "
        "นักเรียนจำนวนมากมาทำการบ้านที่นี่หลังเลิกเรียน\n"
        "ห้องสมุดยังจัดกิจกรรมเล่านิทานให้เด็กฟังเป็นประจำ ซึ่งเป็นที่ชื่นชอบของผู้ปกครอง "
        "เมื่อปีที่แล้วห้องสมุดได้รับหนังสือเก่าที่มีผู้บริจาคมาเป็นจำนวนมาก "
        "บางเล่มพิมพ์มานานกว่าหนึ่งร้อยปี เจ้าหน้าที่กำลังซ่อมแซมหนังสือเหล่านี้ "
        "และจะนำออกจัดแสดงในฤดูใบไม้ผลิปีหน้า",
        "แม่น้ำไหลจากภูเขาลงสู่ที่ราบ และผ่านหมู่บ้านกับทุ่งนาจำนวนมาก "
        "ในฤดูร้อนน้ำในแม่น้ำมีน้อย ชาวนาจึงต้องใช้น้ำอย่างประหยัด\n"
        "เมื่อถึงฤดูฝนน้ำจะเพิ่มขึ้นอย่างรวดเร็ว และบางปีก็เกิดน้ำท่วม "
        "รัฐบาลจึงได้สร้างคันกั้นน้ำที่แข็งแรงไว้ทั้งสองฝั่งของแม่น้ำ\n"
        "ในช่วงปลายปีน้ำในแม่น้ำจะใสขึ้น ผู้คนชอบมาเดินเล่นและตกปลาที่ริมน้ำ "
        "ปัจจุบันชาวบ้านช่วยกันดูแลแม่น้ำ และไม่ปล่อยน้ำเสียลงในแม่น้ำอีกต่อไป "
        "ทำให้มีปลามากขึ้นกว่าเมื่อสิบปีก่อน และนกก็กลับมาอาศัยอยู่ในป่าริมน้ำ",
    ],
    "de": [
        "Die Stadtbibliothek liegt in der Mitte der Altstadt und ist an sechs Tagen in der Woche geöffnet.\n"
        "Leser können jeweils fünf Bücher für zwei Wochen ausleihen, und die Leihfrist kann im Internet verlängert werden.\n"
        "Im Lesesaal stehen große Tische mit hellen Lampen, und viele Schüler machen dort nach dem Unterricht ihre Hausaufgaben.\n"
        "Die Bibliothek veranstaltet außerdem regelmäßig Vorlesestunden für Kinder, die bei den Eltern sehr beliebt sind.\n"
        "Im letzten Jahr erhielt sie eine große Spende alter Bücher, von denen einige vor mehr als hundert Jahren gedruckt wurden.\n"
        "Die Mitarbeiter ordnen und restaurieren diese Bände gerade, und im nächsten Frühjahr sollen sie ausgestellt werden.",
        "Der Fluss fließt von den Bergen in die Ebene und kommt dabei an vielen Dörfern und Feldern vorbei.\n"
        "Im Frühling steigt das Wasser, weil der Schnee in den Bergen schmilzt, und die Bauern bewässern damit ihre Felder.\n"
        "Im Sommer regnet es oft, und manchmal gibt es Hochwasser, deshalb wurden an beiden Ufern hohe Deiche gebaut.\n"
        "Im Herbst wird das Wasser klar, und viele Menschen gehen am Ufer spazieren oder angeln.\n"
        "Seit einigen Jahren achten die Bewohner mehr auf die Natur des Flusses, und schmutziges Wasser darf nicht mehr eingeleitet werden.\n"
        "Heute leben im Fluss viel mehr Fische als vor zehn Jahren, und auch die Vögel sind in den Wald am Ufer zurückgekehrt.",
    ],
}

# Short labels of a site menu, per language (the boilerplate C4 and FineWeb remove).
MENU = {
    "zh": ["首页", "关于我们", "联系我们", "登录", "注册", "购物车", "帮助中心", "网站地图", "隐私政策", "返回顶部"],
    "ja": ["ホーム", "会社概要", "お問い合わせ", "ログイン", "新規登録", "カート", "ヘルプ", "サイトマップ", "プライバシー", "ページの先頭へ"],
    "th": ["หน้าแรก", "เกี่ยวกับเรา", "ติดต่อเรา", "เข้าสู่ระบบ", "สมัครสมาชิก", "ตะกร้าสินค้า", "ช่วยเหลือ", "แผนผังเว็บไซต์", "นโยบาย", "กลับด้านบน"],
    "de": ["Startseite", "Über uns", "Kontakt", "Anmelden", "Registrieren", "Warenkorb", "Hilfe", "Sitemap", "Datenschutz", "Nach oben"],
}

_NO_SPACE = {"zh", "ja", "th"}


def junk(lang: str, text: str, words: list[str], seed: int = 0, menu: list[str] | None = None) -> dict[str, str]:
    """Three kinds of junk in ``lang`` built from a clean ``text`` and its ``words`` (its segmenter's
    tokens): ``repeated`` (its first line 25 times), ``shuffled`` (its words shuffled, punctuation
    dropped, in lines of 3 to 6 words), ``menu`` (site menu labels, one per line, three times; ``menu``
    replaces this module's labels, e.g. with a language's gettext UI strings)."""
    rng = random.Random(seed)
    sep = "" if lang in _NO_SPACE else " "
    first = text.split("\n")[0]
    w = [x for x in words if any(ch.isalnum() for ch in x)]
    rng.shuffle(w)
    lines, i = [], 0
    while i < len(w):
        k = rng.randint(3, 6)
        lines.append(sep.join(w[i:i + k]))
        i += k
    return {"repeated": "\n".join([first] * 25), "shuffled": "\n".join(lines), "menu": "\n".join((menu or MENU[lang]) * 3)}
