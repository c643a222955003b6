"""spaCy 3.8's English tokenizer rules, as data: character classes, affix and infix patterns, the
URL matcher and the exception table, compiled the way spaCy compiles them, so words are split
exactly as DataTrove splits them.

DataTrove's ``split_into_words`` runs ``spacy.blank("en")`` and drops whitespace tokens. spaCy's
rule tokenizer splits the text on whitespace, then, per chunk: stops at a special case
(exceptions such as "don't" -> "do" "n't", "Mr.", ":)"), otherwise strips prefixes from the start
and suffixes from the end repeatedly, and finally splits what remains at infixes (unless it is a
URL). Punctuation *inside* a chunk therefore stays attached unless an infix rule splits it
(``PyBytes_Check(PyObject`` is one token). A single regex cannot express the repeated
prefix/suffix loop faithfully, so the loop is ported in :mod:`.tokenizer` (``_spacy_chunk``, after spaCy 3.8
``tokenizer.pyx`` ``_split_affixes``/``_attach_tokens``) with spaCy's own affix rules, built the
way spaCy builds them (``spacy/lang/punctuation.py``, ``spacy/lang/en/punctuation.py``,
``spacy/util.py compile_*_regex``). The character classes and the exception table are data
copied from spaCy 3.8 (MIT licence: ``spacy/lang/char_classes.py`` and the English
``tokenizer_exceptions``), so spaCy is not needed at run time; ``tests/annotate/test_heuristics.py``
checks them against spaCy (in the ``test`` extra, so ``make test`` runs it). spaCy's second pass
(``_apply_special_cases``) is ported too: exceptions that contain affix characters ("i.e.", ":)")
are matched again on the token sequence and merged back (``def f(x):`` gives ``f(x`` ``):``).
That pass runs over the whole document, where a match across whitespace changes nothing but
can block an overlapping match; here it runs per chunk, so that blocking is not reproduced.
"""
from __future__ import annotations

import re

_SP_ALPHA = (
    r"A-Za-z\uFF21-\uFF3A\uFF41-\uFF5A\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u00FF\u0100-\u017F\u0180-"
    r"\u01BF\u01C4-\u024F\u2C60-\u2C7B\u2C7E\u2C7F\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uA790-\uA7B9"
    r"\uA7FA\uAB30-\uAB5A\uAB60-\uAB64\u0250-\u02AF\u1D00-\u1D25\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-"
    r"\u1EFFёа-яЁА-ЯәөүҗңһӘӨҮҖҢҺα-ωάέίόώήύΑ-ΩΆΈΊΌΏΉΎа-щюяіїєґА-ЩЮЯІЇЄҐѓѕјљњќѐѝЃЅЈЉЊЌЀЍ\u1200-\u137F"
    r"\u0980-\u09FF\u0591-\u05F4\uFB1D-\uFB4F\u0620-\u064A\u066E-\u06D5\u06E5-\u06FF\u0750-\u077F"
    r"\u08A0-\u08BD\uFB50-\uFBB1\uFBD3-\uFD3D\uFD50-\uFDC7\uFDF0-\uFDFB\uFE70-\uFEFC\U0001EE00-"
    r"\U0001EEBB\u0D80-\u0DFF\u0900-\u097F\u0C80-\u0CFF\u0B80-\u0BFF\u0C00-\u0C7F\uAC00-\uD7AF\u1100-"
    r"\u11FF\u3040-\u309F\u30A0-\u30FFー\u4E00-\u62FF\u6300-\u77FF\u7800-\u8CFF\u8D00-\u9FFF\u3400-"
    r"\u4DBF\U00020000-\U000215FF\U00021600-\U000230FF\U00023100-\U000245FF\U00024600-\U000260FF"
    r"\U00026100-\U000275FF\U00027600-\U000290FF\U00029100-\U0002A6DF\U0002A700-\U0002B73F\U0002B740-"
    r"\U0002B81F\U0002B820-\U0002CEAF\U0002CEB0-\U0002EBEF\u2E80-\u2EFF\u2F00-\u2FDF\u2FF0-\u2FFF"
    r"\u3000-\u303F\u31C0-\u31EF\u3200-\u32FF\u3300-\u33FF\uF900-\uFAFF\uFE30-\uFE4F\U0001F200-"
    r"\U0001F2FF\U0002F800-\U0002FA1F"
)

_SP_ALPHA_LOWER = (
    r"a-z\uFF41-\uFF5A\u00DF-\u00F6\u00F8-\u00FF\u0101\u0103\u0105\u0107\u0109\u010B\u010D\u010F\u0111"
    r"\u0113\u0115\u0117\u0119\u011B\u011D\u011F\u0121\u0123\u0125\u0127\u0129\u012B\u012D\u012F\u0131"
    r"\u0133\u0135\u0137\u0138\u013A\u013C\u013E\u0140\u0142\u0144\u0146\u0148\u0149\u014B\u014D\u014F"
    r"\u0151\u0153\u0155\u0157\u0159\u015B\u015D\u015F\u0161\u0163\u0165\u0167\u0169\u016B\u016D\u016F"
    r"\u0171\u0173\u0175\u0177\u017A\u017C\u017E\u017F\u0180\u0183\u0185\u0188\u018C\u018D\u0192\u0195"
    r"\u0199-\u019B\u019E\u01A1\u01A3\u01A5\u01A8\u01AA\u01AB\u01AD\u01B0\u01B4\u01B6\u01B9\u01BA"
    r"\u01BD-\u01BF\u01C6\u01C9\u01CC\u01CE\u01D0\u01D2\u01D4\u01D6\u01D8\u01DA\u01DC\u01DD\u01DF"
    r"\u01E1\u01E3\u01E5\u01E7\u01E9\u01EB\u01ED\u01EF\u01F0\u01F3\u01F5\u01F9\u01FB\u01FD\u01FF\u0201"
    r"\u0203\u0205\u0207\u0209\u020B\u020D\u020F\u0211\u0213\u0215\u0217\u0219\u021B\u021D\u021F\u0221"
    r"\u0223\u0225\u0227\u0229\u022B\u022D\u022F\u0231\u0233-\u0239\u023C\u023F\u0240\u0242\u0247"
    r"\u0249\u024B\u024D\u024F\u2C61\u2C65\u2C66\u2C68\u2C6A\u2C6C\u2C71\u2C73\u2C74\u2C76-\u2C7B"
    r"\uA723\uA725\uA727\uA729\uA72B\uA72D\uA72F-\uA731\uA733\uA735\uA737\uA739\uA73B\uA73D\uA73F"
    r"\uA741\uA743\uA745\uA747\uA749\uA74B\uA74D\uA74F\uA751\uA753\uA755\uA757\uA759\uA75B\uA75D\uA75F"
    r"\uA761\uA763\uA765\uA767\uA769\uA76B\uA76D\uA76F\uA771-\uA778\uA77A\uA77C\uA77F\uA781\uA783"
    r"\uA785\uA787\uA78C\uA78E\uA791\uA793-\uA795\uA797\uA799\uA79B\uA79D\uA79F\uA7A1\uA7A3\uA7A5"
    r"\uA7A7\uA7A9\uA7AF\uA7B5\uA7B7\uA7B9\uA7FA\uAB30-\uAB5A\uAB60-\uAB64\u0250-\u02AF\u1D00-\u1D25"
    r"\u1D6B-\u1D77\u1D79-\u1D9A\u1E01\u1E03\u1E05\u1E07\u1E09\u1E0B\u1E0D\u1E0F\u1E11\u1E13\u1E15"
    r"\u1E17\u1E19\u1E1B\u1E1D\u1E1F\u1E21\u1E23\u1E25\u1E27\u1E29\u1E2B\u1E2D\u1E2F\u1E31\u1E33\u1E35"
    r"\u1E37\u1E39\u1E3B\u1E3D\u1E3F\u1E41\u1E43\u1E45\u1E47\u1E49\u1E4B\u1E4D\u1E4F\u1E51\u1E53\u1E55"
    r"\u1E57\u1E59\u1E5B\u1E5D\u1E5F\u1E61\u1E63\u1E65\u1E67\u1E69\u1E6B\u1E6D\u1E6F\u1E71\u1E73\u1E75"
    r"\u1E77\u1E79\u1E7B\u1E7D\u1E7F\u1E81\u1E83\u1E85\u1E87\u1E89\u1E8B\u1E8D\u1E8F\u1E91\u1E93\u1E95"
    r"-\u1E9D\u1E9F\u1EA1\u1EA3\u1EA5\u1EA7\u1EA9\u1EAB\u1EAD\u1EAF\u1EB1\u1EB3\u1EB5\u1EB7\u1EB9"
    r"\u1EBB\u1EBD\u1EBF\u1EC1\u1EC3\u1EC5\u1EC7\u1EC9\u1ECB\u1ECD\u1ECF\u1ED1\u1ED3\u1ED5\u1ED7\u1ED9"
    r"\u1EDB\u1EDD\u1EDF\u1EE1\u1EE3\u1EE5\u1EE7\u1EE9\u1EEB\u1EED\u1EEF\u1EF1\u1EF3\u1EF5\u1EF7\u1EF9"
    r"\u1EFB\u1EFD\u1EFFёа-яәөүҗңһα-ωάέίόώήύа-щюяіїєґѓѕјљњќѐѝ\u1200-\u137F\u0980-\u09FF\u0591-\u05F4"
    r"\uFB1D-\uFB4F\u0620-\u064A\u066E-\u06D5\u06E5-\u06FF\u0750-\u077F\u08A0-\u08BD\uFB50-\uFBB1"
    r"\uFBD3-\uFD3D\uFD50-\uFDC7\uFDF0-\uFDFB\uFE70-\uFEFC\U0001EE00-\U0001EEBB\u0D80-\u0DFF\u0900-"
    r"\u097F\u0C80-\u0CFF\u0B80-\u0BFF\u0C00-\u0C7F\uAC00-\uD7AF\u1100-\u11FF\u3040-\u309F\u30A0-"
    r"\u30FFー\u4E00-\u62FF\u6300-\u77FF\u7800-\u8CFF\u8D00-\u9FFF\u3400-\u4DBF\U00020000-\U000215FF"
    r"\U00021600-\U000230FF\U00023100-\U000245FF\U00024600-\U000260FF\U00026100-\U000275FF\U00027600-"
    r"\U000290FF\U00029100-\U0002A6DF\U0002A700-\U0002B73F\U0002B740-\U0002B81F\U0002B820-\U0002CEAF"
    r"\U0002CEB0-\U0002EBEF\u2E80-\u2EFF\u2F00-\u2FDF\u2FF0-\u2FFF\u3000-\u303F\u31C0-\u31EF\u3200-"
    r"\u32FF\u3300-\u33FF\uF900-\uFAFF\uFE30-\uFE4F\U0001F200-\U0001F2FF\U0002F800-\U0002FA1F"
)

_SP_ALPHA_UPPER = (
    r"A-Z\uFF21-\uFF3A\u00C0-\u00D6\u00D8-\u00DE\u0100\u0102\u0104\u0106\u0108\u010A\u010C\u010E\u0110"
    r"\u0112\u0114\u0116\u0118\u011A\u011C\u011E\u0120\u0122\u0124\u0126\u0128\u012A\u012C\u012E\u0130"
    r"\u0132\u0134\u0136\u0139\u013B\u013D\u013F\u0141\u0143\u0145\u0147\u014A\u014C\u014E\u0150\u0152"
    r"\u0154\u0156\u0158\u015A\u015C\u015E\u0160\u0162\u0164\u0166\u0168\u016A\u016C\u016E\u0170\u0172"
    r"\u0174\u0176\u0178\u0179\u017B\u017D\u0181\u0182\u0184\u0186\u0187\u0189-\u018B\u018E-\u0191"
    r"\u0193\u0194\u0196-\u0198\u019C\u019D\u019F\u01A0\u01A2\u01A4\u01A6\u01A7\u01A9\u01AC\u01AE"
    r"\u01AF\u01B1-\u01B3\u01B5\u01B7\u01B8\u01BC\u01C4\u01C7\u01CA\u01CD\u01CF\u01D1\u01D3\u01D5"
    r"\u01D7\u01D9\u01DB\u01DE\u01E0\u01E2\u01E4\u01E6\u01E8\u01EA\u01EC\u01EE\u01F1\u01F4\u01F6-"
    r"\u01F8\u01FA\u01FC\u01FE\u0200\u0202\u0204\u0206\u0208\u020A\u020C\u020E\u0210\u0212\u0214\u0216"
    r"\u0218\u021A\u021C\u021E\u0220\u0222\u0224\u0226\u0228\u022A\u022C\u022E\u0230\u0232\u023A\u023B"
    r"\u023D\u023E\u0241\u0243-\u0246\u0248\u024A\u024C\u024E\u2C60\u2C62-\u2C64\u2C67\u2C69\u2C6B"
    r"\u2C6D-\u2C70\u2C72\u2C75\u2C7E\u2C7F\uA722\uA724\uA726\uA728\uA72A\uA72C\uA72E\uA732\uA734"
    r"\uA736\uA738\uA73A\uA73C\uA73E\uA740\uA742\uA744\uA746\uA748\uA74A\uA74C\uA74E\uA750\uA752\uA754"
    r"\uA756\uA758\uA75A\uA75C\uA75E\uA760\uA762\uA764\uA766\uA768\uA76A\uA76C\uA76E\uA779\uA77B\uA77D"
    r"\uA77E\uA780\uA782\uA784\uA786\uA78B\uA78D\uA790\uA792\uA796\uA798\uA79A\uA79C\uA79E\uA7A0\uA7A2"
    r"\uA7A4\uA7A6\uA7A8\uA7AA-\uA7AE\uA7B0-\uA7B4\uA7B6\uA7B8\u1E00\u1E02\u1E04\u1E06\u1E08\u1E0A"
    r"\u1E0C\u1E0E\u1E10\u1E12\u1E14\u1E16\u1E18\u1E1A\u1E1C\u1E1E\u1E20\u1E22\u1E24\u1E26\u1E28\u1E2A"
    r"\u1E2C\u1E2E\u1E30\u1E32\u1E34\u1E36\u1E38\u1E3A\u1E3C\u1E3E\u1E40\u1E42\u1E44\u1E46\u1E48\u1E4A"
    r"\u1E4C\u1E4E\u1E50\u1E52\u1E54\u1E56\u1E58\u1E5A\u1E5C\u1E5E\u1E60\u1E62\u1E64\u1E66\u1E68\u1E6A"
    r"\u1E6C\u1E6E\u1E70\u1E72\u1E74\u1E76\u1E78\u1E7A\u1E7C\u1E7E\u1E80\u1E82\u1E84\u1E86\u1E88\u1E8A"
    r"\u1E8C\u1E8E\u1E90\u1E92\u1E94\u1E9E\u1EA0\u1EA2\u1EA4\u1EA6\u1EA8\u1EAA\u1EAC\u1EAE\u1EB0\u1EB2"
    r"\u1EB4\u1EB6\u1EB8\u1EBA\u1EBC\u1EBE\u1EC0\u1EC2\u1EC4\u1EC6\u1EC8\u1ECA\u1ECC\u1ECE\u1ED0\u1ED2"
    r"\u1ED4\u1ED6\u1ED8\u1EDA\u1EDC\u1EDE\u1EE0\u1EE2\u1EE4\u1EE6\u1EE8\u1EEA\u1EEC\u1EEE\u1EF0\u1EF2"
    r"\u1EF4\u1EF6\u1EF8\u1EFA\u1EFC\u1EFEЁА-ЯӘӨҮҖҢҺΑ-ΩΆΈΊΌΏΉΎА-ЩЮЯІЇЄҐЃЅЈЉЊЌЀЍ\u1200-\u137F\u0980-"
    r"\u09FF\u0591-\u05F4\uFB1D-\uFB4F\u0620-\u064A\u066E-\u06D5\u06E5-\u06FF\u0750-\u077F\u08A0-"
    r"\u08BD\uFB50-\uFBB1\uFBD3-\uFD3D\uFD50-\uFDC7\uFDF0-\uFDFB\uFE70-\uFEFC\U0001EE00-\U0001EEBB"
    r"\u0D80-\u0DFF\u0900-\u097F\u0C80-\u0CFF\u0B80-\u0BFF\u0C00-\u0C7F\uAC00-\uD7AF\u1100-\u11FF"
    r"\u3040-\u309F\u30A0-\u30FFー\u4E00-\u62FF\u6300-\u77FF\u7800-\u8CFF\u8D00-\u9FFF\u3400-\u4DBF"
    r"\U00020000-\U000215FF\U00021600-\U000230FF\U00023100-\U000245FF\U00024600-\U000260FF\U00026100-"
    r"\U000275FF\U00027600-\U000290FF\U00029100-\U0002A6DF\U0002A700-\U0002B73F\U0002B740-\U0002B81F"
    r"\U0002B820-\U0002CEAF\U0002CEB0-\U0002EBEF\u2E80-\u2EFF\u2F00-\u2FDF\u2FF0-\u2FFF\u3000-\u303F"
    r"\u31C0-\u31EF\u3200-\u32FF\u3300-\u33FF\uF900-\uFAFF\uFE30-\uFE4F\U0001F200-\U0001F2FF\U0002F800"
    r"-\U0002FA1F"
)

_SP_ICONS = (
    r"\u00A6\u00A9\u00AE\u00B0\u0482\u058D\u058E\u060E\u060F\u06DE\u06E9\u06FD\u06FE\u07F6\u09FA\u0B70"
    r"\u0BF3-\u0BF8\u0BFA\u0C7F\u0D4F\u0D79\u0F01-\u0F03\u0F13\u0F15-\u0F17\u0F1A-\u0F1F\u0F34\u0F36"
    r"\u0F38\u0FBE-\u0FC5\u0FC7-\u0FCC\u0FCE\u0FCF\u0FD5-\u0FD8\u109E\u109F\u1390-\u1399\u1940\u19DE-"
    r"\u19FF\u1B61-\u1B6A\u1B74-\u1B7C\u2100\u2101\u2103-\u2106\u2108\u2109\u2114\u2116\u2117\u211E-"
    r"\u2123\u2125\u2127\u2129\u212E\u213A\u213B\u214A\u214C\u214D\u214F\u218A\u218B\u2195-\u2199"
    r"\u219C-\u219F\u21A1\u21A2\u21A4\u21A5\u21A7-\u21AD\u21AF-\u21CD\u21D0\u21D1\u21D3\u21D5-\u21F3"
    r"\u2300-\u2307\u230C-\u231F\u2322-\u2328\u232B-\u237B\u237D-\u239A\u23B4-\u23DB\u23E2-\u2426"
    r"\u2440-\u244A\u249C-\u24E9\u2500-\u25B6\u25B8-\u25C0\u25C2-\u25F7\u2600-\u266E\u2670-\u2767"
    r"\u2794-\u27BF\u2800-\u28FF\u2B00-\u2B2F\u2B45\u2B46\u2B4D-\u2B73\u2B76-\u2B95\u2B98-\u2BC8\u2BCA"
    r"-\u2BFE\u2CE5-\u2CEA\u2E80-\u2E99\u2E9B-\u2EF3\u2F00-\u2FD5\u2FF0-\u2FFB\u3004\u3012\u3013\u3020"
    r"\u3036\u3037\u303E\u303F\u3190\u3191\u3196-\u319F\u31C0-\u31E3\u3200-\u321E\u322A-\u3247\u3250"
    r"\u3260-\u327F\u328A-\u32B0\u32C0-\u32FE\u3300-\u33FF\u4DC0-\u4DFF\uA490-\uA4C6\uA828-\uA82B"
    r"\uA836\uA837\uA839\uAA77-\uAA79\uFDFD\uFFE4\uFFE8\uFFED\uFFEE\uFFFC\uFFFD\U00010137-\U0001013F"
    r"\U00010179-\U00010189\U0001018C-\U0001018E\U00010190-\U0001019B\U000101A0\U000101D0-\U000101FC"
    r"\U00010877\U00010878\U00010AC8\U0001173F\U00016B3C-\U00016B3F\U00016B45\U0001BC9C\U0001D000-"
    r"\U0001D0F5\U0001D100-\U0001D126\U0001D129-\U0001D164\U0001D16A-\U0001D16C\U0001D183\U0001D184"
    r"\U0001D18C-\U0001D1A9\U0001D1AE-\U0001D1E8\U0001D200-\U0001D241\U0001D245\U0001D300-\U0001D356"
    r"\U0001D800-\U0001D9FF\U0001DA37-\U0001DA3A\U0001DA6D-\U0001DA74\U0001DA76-\U0001DA83\U0001DA85"
    r"\U0001DA86\U0001ECAC\U0001F000-\U0001F02B\U0001F030-\U0001F093\U0001F0A0-\U0001F0AE\U0001F0B1-"
    r"\U0001F0BF\U0001F0C1-\U0001F0CF\U0001F0D1-\U0001F0F5\U0001F110-\U0001F16B\U0001F170-\U0001F1AC"
    r"\U0001F1E6-\U0001F202\U0001F210-\U0001F23B\U0001F240-\U0001F248\U0001F250\U0001F251\U0001F260-"
    r"\U0001F265\U0001F300-\U0001F3FA\U0001F400-\U0001F6D4\U0001F6E0-\U0001F6EC\U0001F6F0-\U0001F6F9"
    r"\U0001F700-\U0001F773\U0001F780-\U0001F7D8\U0001F800-\U0001F80B\U0001F810-\U0001F847\U0001F850-"
    r"\U0001F859\U0001F860-\U0001F887\U0001F890-\U0001F8AD\U0001F900-\U0001F90B\U0001F910-\U0001F93E"
    r"\U0001F940-\U0001F970\U0001F973-\U0001F976\U0001F97A\U0001F97C-\U0001F9A2\U0001F9B0-\U0001F9B9"
    r"\U0001F9C0-\U0001F9C2\U0001F9D0-\U0001F9FF\U0001FA60-\U0001FA6D"
)

_SP_UNITS = 'km km² km³ m m² m³ dm dm² dm³ cm cm² cm³ mm mm² mm³ ha µm nm yd in ft kg g mg µg t lb oz m/s km/h kmh mph hPa Pa mbar mb MB kb KB gb GB tb TB T G M K % км км² км³ м м² м³ дм дм² дм³ см см² см³ мм мм² мм³ нм кг г мг м/с км/ч кПа Па мбар Кб КБ кб Мб МБ мб Гб ГБ гб Тб ТБ тбكم كم² كم³ م م² م³ سم سم² سم³ مم مم² مم³ كم غرام جرام جم كغ ملغ كوب اكواب'

_SP_CURRENCY = '\\$ £ € ¥ ฿ US\\$ C\\$ A\\$ ₽ ﷼ ₴ ₠ ₡ ₢ ₣ ₤ ₥ ₦ ₧ ₨ ₩ ₪ ₫ € ₭ ₮ ₯ ₰ ₱ ₲ ₳ ₴ ₵ ₶ ₷ ₸ ₹ ₺ ₻ ₼ ₽ ₾ ₿'

_SP_PUNCT = '… …… , : ; \\! \\? ¿ ؟ ¡ \\( \\) \\[ \\] \\{ \\} < > _ # \\* & 。 ？ ！ ， 、 ； ： ～ · । ، ۔ ؛ ٪'

_SP_QUOTES = '\\\' " ” “ ` ‘ ´ ’ ‚ , „ » « 「 」 『 』 （ ） 〔 〕 【 】 《 》 〈 〉 〈 〉  ⟦ ⟧'

_SP_HYPHENS = '- – — -- --- —— ~'

_SP_SPECIAL_SPLITS = (
    '10~a.m. 10~am 10~p.m. 10~pm 11~a.m. 11~am 11~p.m. 11~pm 12~a.m. 12~am 12~p.m. 12~pm 1~a.m. 1~am '
    '1~p.m. 1~pm 2~a.m. 2~am 2~p.m. 2~pm 3~a.m. 3~am 3~p.m. 3~pm 4~a.m. 4~am 4~p.m. 4~pm 5~a.m. 5~am '
    '5~p.m. 5~pm 6~a.m. 6~am 6~p.m. 6~pm 7~a.m. 7~am 7~p.m. 7~pm 8~a.m. 8~am 8~p.m. 8~pm 9~a.m. 9~am '
    "9~p.m. 9~pm Ai~n't Ai~nt Are~n't Are~nt C'm~on Ca~n't Ca~n't~'ve Can~not Ca~nt Ca~nt~ve "
    "Could~'ve Could~n't Could~n't~'ve Could~nt Could~nt~ve Could~ve Dare~n't Dare~nt Did~n't "
    "Did~n't~'ve Did~nt Did~nt~ve Does~n't Does~n't~'ve Does~nt Does~nt~ve Do~n't Do~n't~'ve Do~nt "
    "Do~nt~ve Gon~na Got~ta Had~n't Had~n't~'ve Had~nt Had~nt~ve Has~n't Has~nt Have~n't Have~nt "
    "He~'d He~'d~'ve He~'ll He~'ll~'ve He~'s He~d He~d~ve He~ll~ve He~s How~'d How~'d~'ve How~'d~'y "
    "How~'ll How~'ll~'ve How~'re How~'s How~'ve How~d How~d~ve How~ll How~ll~ve How~re How~s How~ve "
    "I~'d I~'d~'ve I~'ll I~'ll~'ve I~'m I~'m~a I~'ve I~d I~d~ve I~ll~ve I~m I~m~a Is~n't Is~nt It~'d "
    "It~'d~'ve It~'ll It~'ll~'ve It~'s It~d It~d~ve It~ll It~ll~ve I~ve Let~'s May~n't May~n't~'ve "
    "May~nt May~nt~ve Might~'ve Might~n't Might~n't~'ve Might~nt Might~nt~ve Might~ve Must~'ve "
    "Must~n't Must~n't~'ve Must~nt Must~nt~ve Must~ve Need~n't Need~n't~'ve Need~nt Need~nt~ve "
    "Not~'ve Not~ve Ought~n't Ought~n't~'ve Ought~nt Ought~nt~ve Sha~n't Sha~n't~'ve Sha~nt Sha~nt~ve "
    "She~'d She~'d~'ve She~'ll She~'ll~'ve She~'s She~d~ve She~ll~ve She~s Should~'ve Should~n't "
    "Should~n't~'ve Should~nt Should~nt~ve Should~ve That~'d That~'d~'ve That~'ll That~'ll~'ve "
    "That~'s That~d That~d~ve That~ll That~ll~ve That~s There~'d There~'d~'ve There~'ll There~'ll~'ve "
    "There~'re There~'s There~'ve There~d There~d~ve There~ll There~ll~ve There~re There~s There~ve "
    "These~'d These~'d~'ve These~'ll These~'ll~'ve These~'re These~'ve These~d These~d~ve These~ll "
    "These~ll~ve These~re These~ve They~'d They~'d~'ve They~'ll They~'ll~'ve They~'re They~'ve They~d "
    "They~d~ve They~ll They~ll~ve They~re They~ve This~'d This~'d~'ve This~'ll This~'ll~'ve This~'s "
    "This~d This~d~ve This~ll This~ll~ve This~s Those~'d Those~'d~'ve Those~'ll Those~'ll~'ve "
    "Those~'re Those~'ve Those~d Those~d~ve Those~ll Those~ll~ve Those~re Those~ve Was~n't Was~nt "
    "We~'d We~'d~'ve We~'ll We~'ll~'ve We~'re We~'ve We~d We~d~ve We~ll~ve Were~n't Were~nt We~ve "
    "What~'d What~'d~'ve What~'ll What~'ll~'ve What~'re What~'s What~'ve What~d What~d~ve What~ll "
    "What~ll~ve What~re What~s What~ve When~'d When~'d~'ve When~'ll When~'ll~'ve When~'re When~'s "
    "When~'ve When~d When~d~ve When~ll When~ll~ve When~re When~s When~ve Where~'d Where~'d~'ve "
    "Where~'ll Where~'ll~'ve Where~'re Where~'s Where~'ve Where~d Where~d~ve Where~ll Where~ll~ve "
    "Where~re Where~s Where~ve Who~'d Who~'d~'ve Who~'ll Who~'ll~'ve Who~'re Who~'s Who~'ve Who~d "
    "Who~d~ve Who~ll Who~ll~ve Who~s Who~ve Why~'d Why~'d~'ve Why~'ll Why~'ll~'ve Why~'re Why~'s "
    "Why~'ve Why~d Why~d~ve Why~ll Why~ll~ve Why~re Why~s Why~ve Wo~n't Wo~n't~'ve Wo~nt Wo~nt~ve "
    "Would~'ve Would~n't Would~n't~'ve Would~nt Would~nt~ve Would~ve You~'d You~'d~'ve You~'ll "
    "You~'ll~'ve You~'re You~'ve You~d You~d~ve You~ll You~ll~ve You~re You~ve ai~n't ai~nt are~n't "
    "are~nt c'm~on ca~n't ca~n't~'ve can~not ca~nt ca~nt~ve could~'ve could~n't could~n't~'ve "
    "could~nt could~nt~ve could~ve dare~n't dare~nt did~n't did~n't~'ve did~nt did~nt~ve does~n't "
    "does~n't~'ve does~nt does~nt~ve do~n't do~n't~'ve do~nt do~nt~ve gon~na got~ta had~n't "
    "had~n't~'ve had~nt had~nt~ve has~n't has~nt have~n't have~nt he~'d he~'d~'ve he~'ll he~'ll~'ve "
    "he~'s he~d he~d~ve he~ll~ve he~s how~'d how~'d~'ve how~'d~'y how~'ll how~'ll~'ve how~'re how~'s "
    "how~'ve how~d how~d~ve how~ll how~ll~ve how~re how~s how~ve i~'d i~'d~'ve i~'ll i~'ll~'ve i~'m "
    "i~'m~a i~'ve i~d i~d~ve i~ll~ve i~m i~m~a is~n't is~nt it~'d it~'d~'ve it~'ll it~'ll~'ve it~'s "
    "it~d it~d~ve it~ll it~ll~ve i~ve let~'s may~n't may~n't~'ve may~nt may~nt~ve might~'ve might~n't "
    "might~n't~'ve might~nt might~nt~ve might~ve must~'ve must~n't must~n't~'ve must~nt must~nt~ve "
    "must~ve need~n't need~n't~'ve need~nt need~nt~ve not~'ve not~ve ought~n't ought~n't~'ve ought~nt "
    "ought~nt~ve sha~n't sha~n't~'ve sha~nt sha~nt~ve she~'d she~'d~'ve she~'ll she~'ll~'ve she~'s "
    "she~d~ve she~ll~ve she~s should~'ve should~n't should~n't~'ve should~nt should~nt~ve should~ve "
    "that~'d that~'d~'ve that~'ll that~'ll~'ve that~'s that~d that~d~ve that~ll that~ll~ve that~s "
    "there~'d there~'d~'ve there~'ll there~'ll~'ve there~'re there~'s there~'ve there~d there~d~ve "
    "there~ll there~ll~ve there~re there~s there~ve these~'d these~'d~'ve these~'ll these~'ll~'ve "
    "these~'re these~'ve these~d these~d~ve these~ll these~ll~ve these~re these~ve they~'d "
    "they~'d~'ve they~'ll they~'ll~'ve they~'re they~'ve they~d they~d~ve they~ll they~ll~ve they~re "
    "they~ve this~'d this~'d~'ve this~'ll this~'ll~'ve this~'s this~d this~d~ve this~ll this~ll~ve "
    "this~s those~'d those~'d~'ve those~'ll those~'ll~'ve those~'re those~'ve those~d those~d~ve "
    "those~ll those~ll~ve those~re those~ve was~n't was~nt we~'d we~'d~'ve we~'ll we~'ll~'ve we~'re "
    "we~'ve we~d we~d~ve we~ll~ve were~n't were~nt we~ve what~'d what~'d~'ve what~'ll what~'ll~'ve "
    "what~'re what~'s what~'ve what~d what~d~ve what~ll what~ll~ve what~re what~s what~ve when~'d "
    "when~'d~'ve when~'ll when~'ll~'ve when~'re when~'s when~'ve when~d when~d~ve when~ll when~ll~ve "
    "when~re when~s when~ve where~'d where~'d~'ve where~'ll where~'ll~'ve where~'re where~'s "
    "where~'ve where~d where~d~ve where~ll where~ll~ve where~re where~s where~ve who~'d who~'d~'ve "
    "who~'ll who~'ll~'ve who~'re who~'s who~'ve who~d who~d~ve who~ll who~ll~ve who~s who~ve why~'d "
    "why~'d~'ve why~'ll why~'ll~'ve why~'re why~'s why~'ve why~d why~d~ve why~ll why~ll~ve why~re "
    "why~s why~ve wo~n't wo~n't~'ve wo~nt wo~nt~ve would~'ve would~n't would~n't~'ve would~nt "
    "would~nt~ve would~ve y'~all y~all you~'d you~'d~'ve you~'ll you~'ll~'ve you~'re you~'ve you~d "
    'you~d~ve you~ll you~ll~ve you~re you~ve °~C~. °~F~. °~K~. °~c~. °~f~. °~k~.'
)

_SP_SPECIAL_WORDS = (
    "' '' 'Cause 'Cos 'Coz 'Cuz 'S 'bout 'cause 'cos 'coz 'cuz 'd 'em 'll 'nuff 're 's (*_*) (-8 (-: "
    '(-; (-_-) (._.) (: (; (= (>_<) (^_^) (o: (¬_¬) (ಠ_ಠ) (╯°□°）╯︵┻━┻ )-: ): -_- -__- ._. 0.0 0.o 0_0 '
    "0_o 8) 8-) 8-D 8D :'( :') :'-( :'-) :( :(( :((( :() :) :)) :))) :* :-( :-(( :-((( :-) :-)) :-))) "
    ':-* :-/ :-0 :-3 :-> :-D :-O :-P :-X :-] :-o :-p :-x :-| :-} :/ :0 :1 :3 :> :D :O :P :X :] :o :o) '
    ':p :x :| :} ;) ;-) ;-D ;D ;_; <.< </3 <3 <33 <333 <space> =( =) =/ =3 =D =[ =] =| >.< >.> >:( '
    '>:o ><(((*> @_@ Adm. Ak. Ala. Apr. Ariz. Ark. Aug. Bros. C++ Calif. Co. Colo. Conn. Corp. D.C. '
    "Dec. Del. Doin Doin' Dr. E.G. E.g. Feb. Fla. Ga. Gen. Goin Goin' Gov. Havin Havin' I.E. I.e. Ia. "
    "Id. Ill. Inc. Ind. Jan. Jr. Jul. Jun. Kan. Kans. Ky. La. Lovin Lovin' Ltd. Ma'am Mar. Mass. Md. "
    'Messrs. Mich. Minn. Miss. Mo. Mont. Mr. Mrs. Ms. Mt. N.C. N.D. N.H. N.J. N.M. N.Y. Neb. Nebr. '
    "Nev. Nothin Nothin' Nov. Nuthin Nuthin' O'clock O.O O.o O_O O_o Oct. Okla. Ol Ol' Ore. Pa. Ph.D. "
    "Prof. Rep. Rev. S.C. Sen. Sep. Sept. Somethin Somethin' St. Tenn. V.V V_V Va. Wash. Wis. XD XDD "
    '[-: [: [= \\") \\n \\t ]= ^_^ ^__^ ^___^ a. a.m. and/or b. c. co. d. doin doin\' e. e.g. em f. g. '
    "goin goin' h. havin havin' i. i.e. j. k. l. ll lovin lovin' m. ma'am n. nothin nothin' nuff "
    "nuthin nuthin' o'clock o. o.0 o.O o.o o_0 o_O o_o ol ol' p. p.m. q. r. s. somethin somethin' t. "
    'u. v. v.s. v.v v_v vs. w. w/o x. xD xDD y. z. ¯\\(ツ)/¯ ä. ö. ü. ಠ_ಠ ಠ︵ಠ — ‘S ‘s'
)


def _sp_split(s: str) -> list[str]:
    return s.strip().split(" ")


def _sp_merge(s: str) -> str:
    return s.strip().replace(" ", "|")


_SP_LIST_PUNCT = _sp_split(_SP_PUNCT)
_SP_LIST_QUOTES = _sp_split(_SP_QUOTES)
_SP_LIST_ELLIPSES = [r"\.\.+", "…"]
_SP_LIST_ICONS = [f"[{_SP_ICONS}]"]
_SP_CONCAT_QUOTES = _SP_QUOTES.strip().replace(" ", "")
_SP_PREFIXES = (["§", "%", "=", "—", "–", r"\+(?![0-9])"] + _SP_LIST_PUNCT + _SP_LIST_ELLIPSES
                + _SP_LIST_QUOTES + _sp_split(_SP_CURRENCY) + _SP_LIST_ICONS)
_SP_SUFFIXES = (_SP_LIST_PUNCT + _SP_LIST_ELLIPSES + _SP_LIST_QUOTES + _SP_LIST_ICONS
                + ["'s", "'S", "’s", "’S", "—", "–"]
                + [r"(?<=[0-9])\+",
                   r"(?<=°[FfCcKk])\.",
                   r"(?<=[0-9])(?:{c})".format(c=_sp_merge(_SP_CURRENCY)),
                   r"(?<=[0-9])(?:{u})".format(u=_sp_merge(_SP_UNITS)),
                   r"(?<=[0-9{al}{e}{p}(?:{q})])\.".format(al=_SP_ALPHA_LOWER, e=r"%²\-\+",
                                                           q=_SP_CONCAT_QUOTES, p=_sp_merge(_SP_PUNCT)),
                   r"(?<=[{au}][{au}])\.".format(au=_SP_ALPHA_UPPER)])
_SP_INFIXES = (_SP_LIST_ELLIPSES + _SP_LIST_ICONS
               + [r"(?<=[0-9])[+\-\*^](?=[0-9-])",
                  r"(?<=[{al}{q}])\.(?=[{au}{q}])".format(al=_SP_ALPHA_LOWER, au=_SP_ALPHA_UPPER,
                                                          q=_SP_CONCAT_QUOTES),
                  r"(?<=[{a}]),(?=[{a}])".format(a=_SP_ALPHA),
                  r"(?<=[{a}0-9])(?:{h})(?=[{a}])".format(a=_SP_ALPHA, h=_sp_merge(_SP_HYPHENS)),
                  r"(?<=[{a}0-9])[:<>=/](?=[{a}])".format(a=_SP_ALPHA)])
_SP_PREFIX_RE = re.compile("|".join("^" + p for p in _SP_PREFIXES if p.strip()))
_SP_SUFFIX_RE = re.compile("|".join(p + "$" for p in _SP_SUFFIXES if p.strip()))
_SP_INFIX_RE = re.compile("|".join(p for p in _SP_INFIXES if p.strip()))
# spaCy's URL_MATCH (spacy/lang/tokenizer_exceptions.py; after dperini's URL regex, MIT).
_SP_URL_RE = re.compile(
    r"(?u)^(?:(?:[\w\+\-\.]{2,})://)?(?:\S+(?::\S*)?@)?(?:"
    r"(?!(?:10|127)(?:\.\d{1,3}){3})(?!(?:169\.254|192\.168)(?:\.\d{1,3}){2})"
    r"(?!172\.(?:1[6-9]|2\d|3[0-1])(?:\.\d{1,3}){2})"
    r"(?:[1-9]\d?|1\d\d|2[01]\d|22[0-3])(?:\.(?:1?\d{1,2}|2[0-4]\d|25[0-5])){2}"
    r"(?:\.(?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4]))"
    r"|(?:(?:[A-Za-z0-9\u00a1-\uffff][A-Za-z0-9\u00a1-\uffff_-]{0,62})?[A-Za-z0-9\u00a1-\uffff]\.)+"
    r"(?:[" + _SP_ALPHA_LOWER + r"]{2,63}))(?::\d{2,5})?(?:[/?#]\S*)?$")




# Character sets the affix regexes can start or end a match with, read off their parsed patterns, so
# the loop can skip a search that cannot match (a necessary condition, never a guess): a prefix
# match starts with a character in _SP_PREFIX_FIRST; a suffix match ends with one in _SP_SUFFIX_LAST,
# or in _SP_SUFFIX_LAST_DIGIT when its alternative is only tried after a digit ("(?<=[0-9])km");
# an infix match consumes a character in _SP_INFIX_CHARS. None disables a check (pattern not understood).
def _sp_char_set(seq, last: bool):
    """(characters a match of parsed ``seq`` can begin (or end) with, or None for any; can it be empty)."""
    from re import _constants as C
    acc: set[str] = set()
    for op, av in (reversed(list(seq)) if last else seq):
        if op is C.LITERAL:
            fs, nullable = {chr(av)}, False
        elif op is C.IN:
            fs, nullable = set(), False
            for iop, iav in av:
                if iop is C.LITERAL:
                    fs.add(chr(iav))
                elif iop is C.RANGE:
                    fs.update(map(chr, range(iav[0], iav[1] + 1)))
                else:
                    return None, False
        elif op is C.SUBPATTERN:
            if av[1] or av[2]:
                return None, False
            fs, nullable = _sp_char_set(av[3], last)
        elif op is C.BRANCH:
            fs, nullable = set(), False
            for alt in av[1]:
                f, n = _sp_char_set(alt, last)
                if f is None:
                    return None, False
                fs |= f
                nullable = nullable or n
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            fs, nullable = _sp_char_set(av[2], last)
            nullable = nullable or av[0] == 0
        elif op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            fs, nullable = set(), True
        else:
            return None, False
        if fs is None:
            return None, False
        acc |= fs
        if not nullable:
            return acc, False
    return acc, True


def _sp_affix_sets():
    from re import _constants as C, _parser
    def chars(p, last):
        fs, nullable = _sp_char_set(_parser.parse(p), last)
        return None if nullable else fs
    first = [chars("^" + p, False) for p in _SP_PREFIXES if p.strip()]
    prefix = None if None in first else frozenset().union(*first)
    plain: set[str] = set()
    digit: set[str] = set()
    for p in _SP_SUFFIXES:
        if not p.strip():
            continue
        fs = chars(p + "$", True)
        if fs is None:
            plain = digit = None
            break
        head = list(_parser.parse(p))[0]
        after_digit = (head[0] is C.ASSERT and head[1][0] == -1
                       and list(head[1][1]) == [(C.IN, [(C.RANGE, (48, 57))])])
        (digit if after_digit else plain).update(fs)
    infix = [chars(p, False) for p in _SP_INFIXES if p.strip()]
    infix = None if None in infix else frozenset().union(*infix)
    if plain is None:
        return prefix, None, None, infix
    return prefix, frozenset(plain), frozenset(digit - plain), infix


_SP_PREFIX_FIRST, _SP_SUFFIX_LAST, _SP_SUFFIX_LAST_DIGIT, _SP_INFIX_CHARS = _sp_affix_sets()
_SP_DIGITS_RE = re.compile("[0-9]")
# What the loop uses; a check the pattern analysis could not make is replaced by one that always passes.
_ALL_CHARS = type("_AllChars", (), {"__contains__": lambda self, c: True, "isdisjoint": lambda self, s: False})()
_SP_AFFIX_SETS = (
    _ALL_CHARS if _SP_PREFIX_FIRST is None else _SP_PREFIX_FIRST,
    _ALL_CHARS if _SP_SUFFIX_LAST is None else _SP_SUFFIX_LAST,
    frozenset() if _SP_SUFFIX_LAST is None else _SP_SUFFIX_LAST_DIGIT,
    _ALL_CHARS if _SP_INFIX_CHARS is None else _SP_INFIX_CHARS,
)

def _sp_specials() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for entry in _SP_SPECIAL_SPLITS.split():
        parts = tuple(entry.split("~"))
        out["".join(parts)] = parts
    for word in _SP_SPECIAL_WORDS.split():
        out[word] = (word,)
    # spaCy adds every exception with a straight apostrophe also with a curly one.
    for key, parts in list(out.items()):
        if "'" in key:
            out[key.replace("'", "’")] = tuple(p.replace("'", "’") for p in parts)
    return out


_SPECIALS = _sp_specials()
