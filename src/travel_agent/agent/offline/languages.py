"""Spanish, German, French, Italian and Portuguese: which one a message is in, and its trip words in English.

The fact and intent patterns are written once, in English. A message detected as one of these five languages is
first rewritten word by word into the English the patterns read ("cinco días con mi pareja" -> "5 days with my
partner"); place names and everything not in the word list pass through untouched. Detection and rewriting are
set and dict operations over the message's words, never a Python loop over its characters.
"""

from __future__ import annotations

import re
from functools import lru_cache

from travel_agent.agent.offline import places
from travel_agent.agent.offline.scan import words_of

LANGUAGE_NAMES = {"es": "Spanish", "de": "German", "fr": "French", "it": "Italian", "pt": "Portuguese"}
NOTE_MARK = "I read your message in"  # the one-line note, said once a session


def note(lang: str) -> str:
    return f"({NOTE_MARK} {LANGUAGE_NAMES[lang]}; offline I can only reply in English.)"


# Function words typical of each language (and rare in the others); a message's language is the one it uses most.
_MARKERS = {
    "en": "the i we to and for with want trip is what how my our of it be people week please thanks can you do should "
    "would like going days nights there where this that",
    "es": "alojarnos dónde cuál "
    "el los las quiero queremos días qué cómo dónde cuándo cuánto cuántos está hola gracias somos nosotros "
    "también semana y con para una pero hay muy viaje personas presupuesto noches vamos mi mis quisiera "
    "del al es lo ir podemos puedes tengo necesito hacer",
    "pt": "ação onde qual não você quero queremos dias viagem uma com em os obrigado obrigada olá pessoas duas dois "
    "orçamento noites "
    "minha meu nós também é vou muito fazer onde quanto custa qual ficar gostaria são podemos preciso ao",
    "it": "perché più città dove quale il lo gli voglio vogliamo giorni viaggio una per con siamo persone "
    "settimana settimane grazie "
    "ciao è sono "
    "mia mio notti dove quanto costa cosa che di della andare vorrei anche molto ma ci fare posso dovrei",
    "fr": "où quel quelle quels dormir on cherche pas quelque chez par personne le la les je nous veux voudrais "
    "jours voyage une "
    "pour avec sommes personnes "
    "semaine semaines merci bonjour "
    "est ma mon nuits où combien quoi des du aller et aussi très mais au aux c'est j'ai faire peux dois il",
    "de": "ich wir möchte möchten will wollen tage tagen reise eine einen für mit sind personen woche wochen danke "
    "hallo ist meine meiner mein nächte wo wie viel was und nach auch sehr aber der die das den dem im zu nicht "
    "gibt bitte können kann soll",
}
# Words English uses too are no evidence of another language ("$150 per person" is English).
_ENGLISH_TOO = frozenset("per come son was will die also man sale fast art gift bad see no a in do plan on".split())
_MARKER_SETS = {
    lang: frozenset(words.split()) - (_ENGLISH_TOO if lang != "en" else frozenset()) for lang, words in _MARKERS.items()
}
# Letters only one of the five uses (one character-class scan each, no word alternation).
_LETTERS = {
    "es": re.compile("[ñ¿¡]"),
    "de": re.compile("[ßäöü]"),
    "pt": re.compile("[ãõ]"),
    "fr": re.compile("[ùœêâîûëï]"),
}

_NUMBERS = {
    "es": "un:1 uno:1 una:1 dos:2 tres:3 cuatro:4 cinco:5 seis:6 siete:7 ocho:8 nueve:9 diez:10 doce:12 "
    "catorce:14 quince:15 veinte:20 treinta:30",
    "de": "ein:1 eine:1 einen:1 einem:1 einer:1 zwei:2 drei:3 vier:4 fünf:5 sechs:6 sieben:7 acht:8 neun:9 zehn:10 "
    "zwölf:12 vierzehn:14 fünfzehn:15 zwanzig:20 dreißig:30",
    "fr": "un:1 une:1 deux:2 trois:3 quatre:4 cinq:5 six:6 sept:7 huit:8 neuf:9 dix:10 douze:12 quatorze:14 "
    "quinze:15 vingt:20 trente:30",
    "it": "un:1 uno:1 una:1 due:2 tre:3 quattro:4 cinque:5 sei:6 sette:7 otto:8 nove:9 dieci:10 dodici:12 "
    "quattordici:14 quindici:15 venti:20 trenta:30",
    "pt": "um:1 uma:1 dois:2 duas:2 três:3 tres:3 quatro:4 cinco:5 seis:6 sete:7 oito:8 nove:9 dez:10 doze:12 "
    "catorze:14 quinze:15 vinte:20 trinta:30",
}
_MONTHS = {
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "de": "januar februar märz april mai juni juli august september oktober november dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "it": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
    "pt": "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro",
}
_ENGLISH_MONTHS = "January February March April May June July August September October November December".split()

# Phrase -> English, per language ("|" separates entries, "=" the English). Longer phrases win over their words.
_PHRASES = {
    "es": "día=day|días=days|dia=day|dias=days|noche=night|noches=nights|semana=week|semanas=weeks|"
    "quincena=fortnight|mes=month|meses=months|fin de semana=weekend|puente=long weekend|"
    "personas=people|persona=person|adultos=adults|adulto=adult|niños=kids|niño=kid|niñas=kids|hijos=kids|"
    "hijas=kids|bebé=baby|amigos=friends|amigas=friends|familia de=family of|grupo de=group of|somos=we are|"
    "mi pareja=my partner|mi esposa=my wife|mi mujer=my wife|mi marido=my husband|mi esposo=my husband|"
    "mi novio=my boyfriend|mi novia=my girlfriend|mi madre=my mother|mi padre=my father|mi hermana=my sister|"
    "mi hermano=my brother|mi hijo=my son|mi hija=my daughter|mi amigo=my friend|mi amiga=my friend|"
    "mis hijos=my kids|y yo=and I|yo y=me and|con=with|y=and|solo=solo|sola=solo|"
    "presupuesto de=budget of|presupuesto=budget|por persona=per person|por día=per day|al día=per day|"
    "por noche=per night|euros=euros|dólares=dollars|libras=pounds|barato=cheap|barata=cheap|"
    "económico=cheap|económica=cheap|mochilero=backpacking|lujo=luxury|de lujo=luxury|gama media=mid-range|"
    "más barato=cheaper|más económico=cheaper|"
    "dónde alojarnos=where to stay|dónde alojarse=where to stay|dónde quedarnos=where to stay|"
    "dónde dormir=where to stay|alojamiento=accommodation|comida=food|comer=eat|restaurantes=restaurants|"
    "moverse=get around|transporte=transport|aeropuerto=airport|qué ver=what to see|qué hacer=things to do|"
    "museos=museums|tiempo=weather|clima=climate|cuánto cuesta=how much|cuánto=how much|coste=cost|costo=cost|"
    "moneda=currency|propina=tipping|propinas=tipping|efectivo=cash|tarjeta=card|idioma=language|"
    "hablan=speak|zona horaria=time zone|diferencia horaria=time difference|visado=visa|pasaporte=passport|"
    "equipaje=luggage|maleta=luggage|qué llevar=what to bring|seguro=safe|segura=safe|seguridad=safety|"
    "itinerario=itinerary|plan=plan|día a día=day by day|resumen=summary|resume=summarise|"
    "cálido=warm|cálida=warm|calor=warm|caliente=hot|frío=cold|playa=beach|algún lugar=somewhere|"
    "a dónde=where|adónde=where|dónde=where|qué=what|cuándo=when|cómo=how|recomiendas=recommend|"
    "sí=yes|vale=ok|claro=sure|gracias=thanks|muchas gracias=thanks|adiós=bye|hasta luego=bye|"
    "en lugar de=instead of|mejor=instead|cambia=change|añade=add|añadir=add|también=also|luego=then|"
    "después=then|vuelos=flights|vuelo=flight|silla de ruedas=wheelchair|vegetariano=vegetarian|"
    "vegano=vegan|sin gluten=gluten-free|eventos=events|festival=festival|o=or|"
    "en vez de=instead of|para=for|cada uno=each|cada una=each|en pareja=as a couple|quiero=i want|queremos=we want|"
    "quisiera=i would like|quisiéramos=we would like|"
    "podemos=can we|"
    "podríamos=could we|agregar=add|ambos=both|los dos=both|las dos=both",
    "de": "tag=day|tage=days|tagen=days|nacht=night|nächte=nights|nächten=nights|woche=week|wochen=weeks|"
    "monat=month|monate=months|wochenende=weekend|langes wochenende=long weekend|personen=people|"
    "person=person|erwachsene=adults|erwachsenen=adults|kinder=kids|kindern=kids|kind=kid|baby=baby|"
    "freunde=friends|freunden=friends|familie mit=family with|wir sind=we are|wir sind zu zweit=we are 2|"
    "zu zweit=for 2|zu dritt=for 3|zu viert=for 4|zu fünft=for 5|zu sechst=for 6|"
    "meine frau=my wife|meiner frau=my wife|mein mann=my husband|meinem mann=my husband|"
    "mein partner=my partner|meinem partner=my partner|meine partnerin=my partner|meiner partnerin=my partner|"
    "meine freundin=my girlfriend|meiner freundin=my girlfriend|mein freund=my boyfriend|"
    "meinem freund=my boyfriend|meine mutter=my mother|meiner mutter=my mother|meinem vater=my father|"
    "meine kinder=my kids|meinen kindern=my kids|und ich=and I|ich und=me and|mit=with|und=and|allein=alone|"
    "budget von=budget of|budget=budget|pro person=per person|pro kopf=per person|pro tag=per day|"
    "am tag=per day|pro nacht=per night|euro=euro|dollar=dollars|günstig=cheap|billig=cheap|"
    "preiswert=cheap|luxus=luxury|luxuriös=luxury|mittelklasse=mid-range|günstiger=cheaper|billiger=cheaper|"
    "wo übernachten=where to stay|wo schlafen=where to stay|unterkunft=accommodation|hotels=hotels|"
    "essen=eat|restaurants=restaurants|fortbewegen=get around|verkehrsmittel=transport|nahverkehr=transport|"
    "flughafen=airport|sehenswürdigkeiten=sights|museen=museums|wetter=weather|klima=climate|"
    "wie viel kostet=how much|wie viel=how much|kosten=cost|kostet=cost|währung=currency|trinkgeld=tipping|"
    "bargeld=cash|karte=card|kreditkarte=card|sprache=language|spricht=speak|spricht man=speak|"
    "zeitzone=time zone|zeitunterschied=time difference|visum=visa|reisepass=passport|gepäck=luggage|"
    "packen=pack|mitnehmen=bring|sicher=safe|sicherheit=safety|reiseplan=itinerary|plan=plan|"
    "tag für tag=day by day|zusammenfassung=summary|fasse zusammen=summarise|fasse=summarise|machen=do|"
    "anschauen=see|besichtigen=see|sehenswert=sights|unternehmen=things to do|warm=warm|warmes=warm|"
    "heiß=hot|kalt=cold|strand=beach|irgendwo=somewhere|wohin=where|wo=where|was=what|wann=when|wie=how|"
    "empfiehlst=recommend|ja=yes|genau=yes|klar=sure|danke=thanks|vielen dank=thanks|tschüss=bye|"
    "auf wiedersehen=bye|statt=instead of|anstatt=instead of|lieber=instead|ändere=change|"
    "für=for|jeweils=each|beide=both|beides=both|wir möchten=we would like|wir wollen=we want|"
    "ich möchte=i would like|ich will=i want|"
    "füge hinzu=add|hinzufügen=add|können wir=can we|könnten wir=could we|auch=also|dann=then|"
    "danach=then|flüge=flights|flug=flight|rollstuhl=wheelchair|"
    "barrierefrei=accessible|vegetarisch=vegetarian|vegan=vegan|glutenfrei=gluten-free|"
    "veranstaltungen=events|oder=or",
    "fr": "jour=day|jours=days|journée=day|journées=days|nuit=night|nuits=nights|semaine=week|semaines=weeks|"
    "quinzaine=fortnight|mois=month|week-end=weekend|personnes=people|personne=person|adultes=adults|"
    "adulte=adult|enfants=kids|enfant=kid|bébé=baby|amis=friends|amies=friends|famille de=family of|"
    "groupe de=group of|nous sommes=we are|on est=we are|ma femme=my wife|mon mari=my husband|"
    "mon copain=my boyfriend|ma copine=my girlfriend|mon partenaire=my partner|ma partenaire=my partner|"
    "mon conjoint=my partner|ma conjointe=my partner|ma compagne=my partner|mon compagnon=my partner|"
    "ma mère=my mother|mon père=my father|ma sœur=my sister|mon frère=my brother|mon fils=my son|"
    "ma fille=my daughter|mon ami=my friend|mon amie=my friend|mes enfants=my kids|et moi=and I|moi et=me and|"
    "avec=with|et=and|seul=alone|seule=alone|budget de=budget of|budget=budget|par personne=per person|"
    "par jour=per day|par nuit=per night|euros=euros|dollars=dollars|pas cher=cheap|bon marché=cheap|"
    "économique=cheap|luxe=luxury|de luxe=luxury|milieu de gamme=mid-range|moins cher=cheaper|"
    "où loger=where to stay|où dormir=where to stay|où séjourner=where to stay|hébergement=accommodation|"
    "manger=eat|nourriture=food|restaurants=restaurants|se déplacer=get around|transports=transport|"
    "aéroport=airport|que voir=what to see|à voir=things to see|à faire=things to do|musées=museums|"
    "météo=weather|temps=weather|climat=climate|combien coûte=how much|combien=how much|coût=cost|"
    "monnaie=currency|devise=currency|pourboire=tipping|pourboires=tipping|espèces=cash|carte=card|"
    "langue=language|parle=speak|parlent=speak|fuseau horaire=time zone|décalage horaire=time difference|"
    "visa=visa|passeport=passport|bagages=luggage|valise=luggage|quoi emporter=what to bring|"
    "emporter=bring|sûr=safe|sécurité=safety|itinéraire=itinerary|programme=plan|jour par jour=day by day|"
    "résumé=summary|résume=summarise|récapitulatif=summary|chaud=warm|chaude=warm|froid=cold|plage=beach|"
    "quelque part=somewhere|où=where|quoi=what|quand=when|comment=how|recommandes=recommend|oui=yes|"
    "d'accord=ok|merci=thanks|merci beaucoup=thanks|au revoir=bye|plutôt=instead|au lieu de=instead of|"
    "change=change|ajoute=add|aussi=also|puis=then|ensuite=then|vols=flights|vol=flight|"
    "fauteuil roulant=wheelchair|accessible=accessible|végétarien=vegetarian|végétalien=vegan|"
    "sans gluten=gluten-free|événements=events|ou=or|"
    "à deux=as a couple|à trois=for 3|à quatre=for 4|à cinq=for 5|pour=for|chacun=each|par tête=per person|"
    "en amoureux=as a couple|en couple=as a couple|je veux=i want|"
    "je voudrais=i would like|nous voulons=we want|"
    "on voudrait=we would like|les deux=both|"
    "ajouter=add|pouvons-nous=can we|on peut=can we|peut-on=can we",
    "it": "giorno=day|giorni=days|notte=night|notti=nights|settimana=week|settimane=weeks|mese=month|mesi=months|"
    "fine settimana=weekend|weekend lungo=long weekend|persone=people|persona=person|adulti=adults|"
    "adulto=adult|bambini=kids|bambino=kid|bambina=kid|figli=kids|neonato=baby|amici=friends|amiche=friends|"
    "famiglia di=family of|gruppo di=group of|siamo in=we are|siamo=we are|mia moglie=my wife|"
    "mio marito=my husband|il mio ragazzo=my boyfriend|la mia ragazza=my girlfriend|"
    "il mio compagno=my partner|la mia compagna=my partner|il mio partner=my partner|mio ragazzo=my boyfriend|"
    "mia ragazza=my girlfriend|mia madre=my mother|mio padre=my father|mia sorella=my sister|"
    "mio fratello=my brother|mio figlio=my son|mia figlia=my daughter|i miei figli=my kids|e io=and I|"
    "io e=me and|con=with|e=and|da solo=alone|da sola=alone|budget di=budget of|budget=budget|"
    "a persona=per person|per persona=per person|al giorno=per day|a notte=per night|euro=euro|"
    "dollari=dollars|economico=cheap|economica=cheap|lusso=luxury|di lusso=luxury|fascia media=mid-range|"
    "più economico=cheaper|dove dormire=where to stay|dove alloggiare=where to stay|alloggio=accommodation|"
    "mangiare=eat|cibo=food|ristoranti=restaurants|muoversi=get around|trasporti=transport|"
    "aeroporto=airport|cosa vedere=what to see|cosa fare=things to do|musei=museums|meteo=weather|"
    "tempo=weather|clima=climate|quanto costa=how much|quanto=how much|costo=cost|valuta=currency|"
    "mancia=tipping|mance=tipping|contanti=cash|carta=card|lingua=language|parlano=speak|"
    "fuso orario=time zone|differenza di fuso=time difference|visto=visa|passaporto=passport|"
    "bagagli=luggage|valigia=luggage|cosa portare=what to bring|sicuro=safe|sicura=safe|sicurezza=safety|"
    "itinerario=itinerary|programma=plan|giorno per giorno=day by day|riepilogo=summary|riassunto=summary|"
    "riassumi=summarise|caldo=warm|freddo=cold|spiaggia=beach|da qualche parte=somewhere|dove=where|"
    "cosa=what|quando=when|come=how|consigli=recommend|sì=yes|certo=sure|va bene=ok|grazie=thanks|"
    "grazie mille=thanks|arrivederci=bye|ciao ciao=bye|invece di=instead of|invece=instead|cambia=change|"
    "per=for|a testa=per person|ciascuno=each|in coppia=as a couple|entrambi=both|voglio=i want|"
    "vorrei=i would like|vogliamo=we want|"
    "vorremmo=we would like|entrambe=both|"
    "tutti e due=both|aggiungi=add|aggiungere=add|possiamo=can we|"
    "potremmo=could we|anche=also|poi=then|voli=flights|"
    "volo=flight|sedia a rotelle=wheelchair|"
    "accessibile=accessible|vegetariano=vegetarian|vegano=vegan|senza glutine=gluten-free|eventi=events|o=or",
    "pt": "dia=day|dias=days|noite=night|noites=nights|semana=week|semanas=weeks|quinzena=fortnight|mês=month|"
    "meses=months|fim de semana=weekend|feriado prolongado=long weekend|pessoas=people|pessoa=person|"
    "adultos=adults|adulto=adult|crianças=kids|criança=kid|filhos=kids|bebê=baby|bebé=baby|amigos=friends|"
    "amigas=friends|família de=family of|grupo de=group of|somos=we are|minha esposa=my wife|"
    "minha mulher=my wife|meu marido=my husband|meu namorado=my boyfriend|minha namorada=my girlfriend|"
    "meu parceiro=my partner|minha parceira=my partner|minha mãe=my mother|meu pai=my father|"
    "minha irmã=my sister|meu irmão=my brother|meu filho=my son|minha filha=my daughter|meus filhos=my kids|"
    "e eu=and I|eu e=me and|com=with|com a=with|com o=with|e=and|sozinho=alone|sozinha=alone|"
    "orçamento de=budget of|orçamento=budget|por pessoa=per person|por dia=per day|por noite=per night|"
    "euros=euros|reais=BRL|dólares=dollars|barato=cheap|barata=cheap|econômico=cheap|económico=cheap|"
    "luxo=luxury|de luxo=luxury|gama média=mid-range|mais barato=cheaper|onde ficar=where to stay|"
    "onde dormir=where to stay|hospedagem=accommodation|alojamento=accommodation|comida=food|comer=eat|"
    "restaurantes=restaurants|transporte=transport|aeroporto=airport|o que ver=what to see|"
    "o que fazer=things to do|museus=museums|tempo=weather|clima=climate|quanto custa=how much|"
    "quanto=how much|custo=cost|moeda=currency|gorjeta=tipping|gorjetas=tipping|dinheiro=cash|"
    "cartão=card|língua=language|idioma=language|falam=speak|fuso horário=time zone|"
    "diferença de horário=time difference|visto=visa|passaporte=passport|bagagem=luggage|mala=luggage|"
    "o que levar=what to bring|seguro=safe|segura=safe|segurança=safety|roteiro=itinerary|plano=plan|"
    "dia a dia=day by day|resumo=summary|resuma=summarise|quente=warm|frio=cold|praia=beach|"
    "algum lugar=somewhere|onde=where|quando=when|como=how|recomenda=recommend|sim=yes|claro=sure|"
    "obrigado=thanks|obrigada=thanks|muito obrigado=thanks|muito obrigada=thanks|tchau=bye|até logo=bye|"
    "em vez de=instead of|ao invés de=instead of|muda=change|adiciona=add|também=also|depois=then|"
    "voos=flights|voo=flight|cadeira de rodas=wheelchair|acessível=accessible|vegetariano=vegetarian|"
    "vegano=vegan|sem glúten=gluten-free|eventos=events|ou=or|"
    "para=for|pra=for|cada um=each|em casal=as a couple|a dois=as a couple|quero=i want|queremos=we want|"
    "gostaria=i would like|"
    "gostaríamos=we would like|ambos=both|os dois=both|"
    "podemos=can we|poderíamos=could we|adicionar=add|acrescentar=add",
}


def _table(lang: str) -> dict[str, str]:
    table = {w: str(n) for w, n in (pair.split(":") for pair in _NUMBERS[lang].split())}
    table |= dict(zip(_MONTHS[lang].split(), _ENGLISH_MONTHS, strict=True))
    table |= dict(entry.split("=", 1) for entry in _PHRASES[lang].split("|"))
    return table


_TABLES = {lang: _table(lang) for lang in _NUMBERS}
# A month's name says the language too ("en septembre", "a luglio").
_MARKER_SETS |= {lang: _MARKER_SETS[lang] | frozenset(_MONTHS[lang].split()) for lang in _MONTHS}
# The first word of every phrase: a message that has none of them needs no rewriting.
_FIRST_WORDS = {lang: frozenset(p.split()[0] for p in table) for lang, table in _TABLES.items()}
# Words that are this language's and not English spelled the same ("hotels", "plan", "budget" are not evidence).
_OWN_WORDS = {
    lang: frozenset(p for p, english in table.items() if " " not in p and p != english.lower()) - _ENGLISH_TOO
    for lang, table in _TABLES.items()
}


@lru_cache(maxsize=4096)
def detect(low: str) -> str:
    """ "en", or one of ``LANGUAGE_NAMES`` when the message reads as that language (ties go to English)."""
    words = words_of(low)
    scores = {lang: len(words & markers) for lang, markers in _MARKER_SETS.items()}
    for lang, letters in _LETTERS.items():
        if letters.search(low):
            scores[lang] += 2
    # A tie goes to the language whose own trip words the message uses most ("e com'è il tempo?" is Italian).
    coverage = {lang: len(words & _OWN_WORDS[lang]) for lang in LANGUAGE_NAMES}
    best = max(LANGUAGE_NAMES, key=lambda lang: (scores[lang], coverage[lang]))
    if scores["en"] == 0:  # no English at all: any marker or trip word of one language decides ("E a gorjeta lá?")
        return best if scores[best] + coverage[best] >= 1 else "en"
    return best if scores[best] >= 2 and scores[best] > scores["en"] else "en"


@lru_cache(maxsize=4096)
def to_english(text: str, lang: str) -> str:
    """``text`` with this language's trip words replaced by the English the patterns read; the rest untouched.
    Place names keep their capitals; replaced words come out lower-case, month names capitalised."""
    if lang not in _TABLES:
        return text
    low = text.lower()
    present = words_of(low) & _FIRST_WORDS[lang]
    if not present:
        return text
    table = _TABLES[lang]
    phrases = sorted((p for p in table if p.split()[0] in present and p in low), key=len, reverse=True)
    if not phrases:
        return text
    pattern = _pattern(tuple(phrases))
    # Place names are never rewritten: "Rio de Janeiro" keeps its "janeiro", "Porto" its "porto".
    names = [(start, end) for start, end, _place in places.mentions(text, low, lenient=True)]
    # lower() keeps indices for these scripts, so the spans of ``low`` are the spans of ``text``; where it does
    # not (a character we never match anyway), the rewriting runs on the lower-cased copy.
    source = text if len(low) == len(text) else low
    out, last = [], 0
    for m in pattern.finditer(low):
        if any(start <= m.start() < end for start, end in names):
            continue
        out += [source[last : m.start()], table[m.group()]]
        last = m.end()
    out.append(source[last:])
    return "".join(out)


@lru_cache(maxsize=1024)
def _pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<![\w'’])(?:" + "|".join(map(re.escape, phrases)) + r")(?![\w'’])", re.IGNORECASE)
