"""Words the demo generator builds organisations and people from, per country, as plain data.

Every string here must be encodable in latin-1: the ERP extract is written in that encoding
(so no "œ", curly quotes or euro signs). ``tests/test_demo_data.py`` checks it.

Phone templates take ``{cc}`` (country calling code), ``{a}`` (area code without trunk
prefix) and the subscriber number as ``{sp}`` / ``{dash}`` / ``{dot}`` (its groups joined by a
space, a dash, a dot) or ``{raw}`` (ungrouped).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    name: str
    region: str  # state, county or province as written in full; "" where none is used
    region_code: str  # the short form people also write (US states), else ""
    postcodes: tuple[str, ...]  # "lo-hi" numeric ranges, or GB outward codes
    area_codes: tuple[str, ...]
    subscriber_digits: int
    aliases: tuple[str, ...] = ()  # other ways the city is written (exonyms, short forms)
    weight: float = 1.0
    subscriber_starts: str = "23456789"  # digits a valid local number may begin with


@dataclass(frozen=True)
class LegalForm:
    weight: float
    variants: tuple[str, ...]  # appended to the name; the first is the canonical spelling
    erp: str  # how the ERP abbreviates it


@dataclass(frozen=True)
class FirstName:
    name: str
    nicknames: tuple[str, ...] = ()


@dataclass(frozen=True)
class StreetType:
    full: str
    short: str


@dataclass(frozen=True)
class Country:
    code: str
    weight: float
    written: tuple[str, ...]  # ways CRM users write the country; the first is the usual one
    calling_code: str
    cities: tuple[City, ...]
    legal_forms: tuple[LegalForm, ...]
    first_names: tuple[FirstName, ...]
    last_names: tuple[str, ...]
    brands: tuple[str, ...]
    industries: tuple[str, ...]
    # Name patterns over {surname}, {surname2}, {brand}, {industry}, {industry2}.
    name_patterns: tuple[str, ...]
    street_names: tuple[str, ...]
    street_types: tuple[StreetType, ...]
    street_pattern: str  # over {num}, {name}, {type}
    house_numbers: tuple[int, int]
    postcode_style: str  # "us", "gb", "nl" or "digits5"
    phone_national: tuple[str, ...]
    phone_international: tuple[str, ...]
    mobile_areas: tuple[str, ...]
    mobile_digits: int
    mobile_starts: str  # digits a valid mobile number may begin with, after its prefix
    tlds: tuple[str, ...]
    personal_email_domains: tuple[str, ...]
    titles: tuple[str, ...]
    tax_id_pattern: str  # "#" is a random digit
    # Subscriber digit groups by length, for {sp}/{dash}/{dot}.
    subscriber_groups: tuple[tuple[int, tuple[int, ...]], ...]


# ---- shared ------------------------------------------------------------------------------

ENGLISH_FIRST_NAMES: tuple[FirstName, ...] = (
    FirstName("Robert", ("Bob", "Rob", "Bobby")),
    FirstName("William", ("Bill", "Will", "Billy")),
    FirstName("Katherine", ("Kate", "Kathy", "Katie")),
    FirstName("Catherine", ("Cathy", "Cat")),
    FirstName("Elizabeth", ("Liz", "Beth", "Betty")),
    FirstName("James", ("Jim", "Jimmy")),
    FirstName("John", ("Jack", "Johnny")),
    FirstName("Michael", ("Mike", "Mick")),
    FirstName("Richard", ("Rick", "Dick", "Rich")),
    FirstName("Thomas", ("Tom", "Tommy")),
    FirstName("Christopher", ("Chris",)),
    FirstName("Jennifer", ("Jen", "Jenny")),
    FirstName("Margaret", ("Maggie", "Peggy", "Meg")),
    FirstName("Patricia", ("Pat", "Trish")),
    FirstName("Daniel", ("Dan", "Danny")),
    FirstName("Matthew", ("Matt",)),
    FirstName("Anthony", ("Tony",)),
    FirstName("Joseph", ("Joe",)),
    FirstName("Charles", ("Charlie", "Chuck")),
    FirstName("Steven", ("Steve",)),
    FirstName("Andrew", ("Andy", "Drew")),
    FirstName("Susan", ("Sue", "Suzy")),
    FirstName("Deborah", ("Debbie", "Deb")),
    FirstName("Rebecca", ("Becky", "Becca")),
    FirstName("Samantha", ("Sam",)),
    FirstName("Alexander", ("Alex",)),
    FirstName("Nicholas", ("Nick",)),
    FirstName("Jessica", ("Jess",)),
    FirstName("Benjamin", ("Ben",)),
    FirstName("Jonathan", ("Jon",)),
    FirstName("Timothy", ("Tim",)),
    FirstName("Edward", ("Ed", "Eddie", "Ted")),
    FirstName("Victoria", ("Vicky", "Tori")),
    FirstName("Kimberly", ("Kim",)),
    FirstName("Gregory", ("Greg",)),
    FirstName("Patrick", ("Pat",)),
    FirstName("Emily"),
    FirstName("Sarah"),
    FirstName("Laura"),
    FirstName("Megan"),
    FirstName("Brian"),
    FirstName("Kevin"),
    FirstName("Jason"),
    FirstName("Ryan"),
    FirstName("Olivia"),
    FirstName("Hannah"),
    FirstName("Rachel"),
    FirstName("Amanda", ("Mandy",)),
    FirstName("Mary Ann"),
)

US_FIRST_NAMES: tuple[FirstName, ...] = (
    *ENGLISH_FIRST_NAMES,
    FirstName("José", ("Pepe",)),
    FirstName("María"),
    FirstName("Sofía"),
    FirstName("Andrés"),
    FirstName("Ashley"),
    FirstName("Tyler"),
    FirstName("Brittany"),
    FirstName("DeShawn"),
    FirstName("Wei"),
    FirstName("Priya"),
)

GB_FIRST_NAMES: tuple[FirstName, ...] = (
    *ENGLISH_FIRST_NAMES,
    FirstName("Siobhan"),
    FirstName("Niamh"),
    FirstName("Gareth"),
    FirstName("Rhys"),
    FirstName("Alistair", ("Ali",)),
    FirstName("Fiona"),
    FirstName("Gemma"),
    FirstName("Harriet", ("Hattie",)),
    FirstName("Oliver", ("Ollie",)),
    FirstName("Henry", ("Harry",)),
    FirstName("Frederick", ("Fred", "Freddie")),
    FirstName("Eleanor", ("Ellie", "Nell")),
    FirstName("Graham"),
    FirstName("Nigel"),
    FirstName("Aoife"),
)

DE_FIRST_NAMES: tuple[FirstName, ...] = (
    FirstName("Johannes", ("Hannes", "Jo")),
    FirstName("Katharina", ("Kathi", "Kati")),
    FirstName("Wolfgang", ("Wolf",)),
    FirstName("Jürgen"),
    FirstName("Jörg"),
    FirstName("Günther"),
    FirstName("Stefan"),
    FirstName("Andreas", ("Andi",)),
    FirstName("Alexander", ("Alex",)),
    FirstName("Christian", ("Chris",)),
    FirstName("Thomas", ("Tom",)),
    FirstName("Michael", ("Micha",)),
    FirstName("Sabine"),
    FirstName("Ute"),
    FirstName("Birgit"),
    FirstName("Friedrich", ("Fritz",)),
    FirstName("Margarete", ("Grete",)),
    FirstName("Elisabeth", ("Lisa", "Elli")),
    FirstName("Franziska", ("Franzi",)),
    FirstName("Maximilian", ("Max",)),
    FirstName("Sebastian", ("Basti",)),
    FirstName("Dominik"),
    FirstName("Lukas"),
    FirstName("Anja"),
    FirstName("Heike"),
    FirstName("Björn"),
    FirstName("Sören"),
    FirstName("Gerd"),
    FirstName("Claudia"),
    FirstName("Matthias"),
    FirstName("Karl-Heinz"),
    FirstName("Hans-Peter"),
    FirstName("Susanne", ("Susi",)),
    FirstName("Tobias", ("Tobi",)),
)

FR_FIRST_NAMES: tuple[FirstName, ...] = (
    FirstName("François"),
    FirstName("Françoise"),
    FirstName("Hélène"),
    FirstName("Jérôme"),
    FirstName("Frédéric", ("Fred",)),
    FirstName("Stéphane"),
    FirstName("Sébastien", ("Seb",)),
    FirstName("Élodie"),
    FirstName("Céline"),
    FirstName("Zoé"),
    FirstName("Benoît"),
    FirstName("Gaëlle"),
    FirstName("Aurélie"),
    FirstName("Amélie"),
    FirstName("Jean-Pierre"),
    FirstName("Jean-Luc"),
    FirstName("Marie-Claire"),
    FirstName("Nicolas", ("Nico",)),
    FirstName("Thomas"),
    FirstName("Camille"),
    FirstName("Mathilde"),
    FirstName("Philippe", ("Phil",)),
    FirstName("Emmanuel", ("Manu",)),
    FirstName("Dominique"),
    FirstName("Anaïs"),
    FirstName("Noël"),
    FirstName("Loïc"),
    FirstName("Raphaël"),
    FirstName("Isabelle", ("Isa",)),
    FirstName("Guillaume"),
)

NL_FIRST_NAMES: tuple[FirstName, ...] = (
    FirstName("Johannes", ("Hans", "Jan")),
    FirstName("Cornelis", ("Kees",)),
    FirstName("Pieter", ("Piet",)),
    FirstName("Hendrik", ("Henk",)),
    FirstName("Willem", ("Wim",)),
    FirstName("Jacobus", ("Koos", "Jaap")),
    FirstName("Gerrit"),
    FirstName("Maarten"),
    FirstName("Sanne"),
    FirstName("Femke"),
    FirstName("Anouk"),
    FirstName("Lieke"),
    FirstName("Floor"),
    FirstName("Joost"),
    FirstName("Bram"),
    FirstName("Daan"),
    FirstName("Thijs"),
    FirstName("Marieke"),
    FirstName("Anne Marie"),
    FirstName("Geertje"),
    FirstName("Wouter"),
    FirstName("Niels"),
    FirstName("Ruud"),
    FirstName("Sjoerd"),
    FirstName("Eline"),
    FirstName("Saskia"),
    FirstName("Margriet"),
    FirstName("Ilse"),
)

US_LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernández", "Lopez", "Wilson", "Anderson", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Nguyen", "Hill", "Flores", "Green",
    "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "O'Brien", "McDonald", "O'Connor", "Peña", "Muñoz", "Kowalski", "Schultz", "Cohen",
    "Patel", "Kim", "Chen", "Washington", "Brooks", "Sullivan", "Russell", "Fisher", "Hayes",
    "Bennett", "Coleman", "Jenkins", "Perry", "Powell", "Long", "Foster", "Sanders", "Price",
)  # fmt: skip

GB_LAST_NAMES: tuple[str, ...] = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Wood", "Jackson", "Clarke", "Patel", "Khan", "Lewis", "James", "Phillips", "Mason",
    "Mitchell", "Rose", "Davis", "Rodgers", "O'Neill", "McAllister", "Fitzgerald",
    "Smith-Jones", "Bowes-Lyon", "Hughes", "Edwards", "Morgan", "Griffiths", "Owen", "Price",
    "Cooper", "Ward", "Harrison", "Turner", "Watson", "Hill", "Lloyd", "Campbell", "Stewart",
    "MacLeod", "Murray", "Kaur", "Singh", "Ali", "Atkinson", "Pritchard", "Baxter", "Holmes",
)  # fmt: skip

DE_LAST_NAMES: tuple[str, ...] = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder",
    "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange",
    "Schmitt", "Werner", "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze",
    "Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs",
    "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Vogel", "Friedrich",
    "Keller", "Günther", "Frank", "Berger", "Winkler", "Roth", "Beck", "Lorenz", "Baumann",
    "Böhm", "Krämer", "Jäger", "Groß", "Dietrich", "Kühn", "von Berg", "Oßwald", "Çelik",
    "Yildiz",
)  # fmt: skip

FR_LAST_NAMES: tuple[str, ...] = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Vincent", "Fournier", "Morel", "Girard", "André", "Lefebvre", "Mercier", "Dupont",
    "Lambert", "Bonnet", "François", "Legrand", "Garnier", "Faure", "Rousseau", "Blanc",
    "Guérin", "Henry", "Roussel", "Perrin", "Morin", "Mathieu", "Clément", "Gauthier",
    "Dumont", "Fontaine", "Chevalier", "Robin", "Masson", "Gérard", "Nguyen", "Boyer",
    "Noël", "Meunier", "Pérez", "Marchand", "Dufour", "Brunet", "Leclerc", "Rivière",
    "Le Gall", "Benoît", "Prévost", "Carré", "Rémy", "Da Silva", "Le Roux", "Bouchard",
)  # fmt: skip

NL_LAST_NAMES: tuple[str, ...] = (
    "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
    "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters",
    "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits",
    "de Graaf", "van der Meer", "van der Linden", "Kok", "Jacobs", "de Haan", "Vermeulen",
    "van den Heuvel", "van der Veen", "van den Broek", "de Bruijn", "van der Heijden",
    "Schouten", "van Beek", "Willems", "van Vliet", "van de Ven", "Hoekstra", "Maas",
    "Verhoeven", "Koster", "van Dam", "Prins", "Blom", "Huisman", "Kuipers", "Postma",
    "Veenstra", "Scholten", "de Ruiter", "Timmermans", "Groen", "van Loon", "Eijkelenboom",
)  # fmt: skip

ENGLISH_BRANDS: tuple[str, ...] = (
    "Acme", "Apex", "Summit", "Pinnacle", "Blue Harbor", "Northwind", "Redwood", "Silverline",
    "Ironbridge", "Bright Path", "Clearwater", "Evergreen", "Granite", "Horizon", "Keystone",
    "Lakeside", "Meridian", "Oakridge", "Pioneer", "Quantum", "Riverbend", "Sterling",
    "Trident", "Vanguard", "Westfield", "Zenith", "Atlas", "Beacon", "Cascade", "Crescent",
    "Falcon", "Frontier", "Highland", "Liberty", "Maple Leaf", "Nexus", "Orion", "Pacific",
    "Prairie", "Red Rock", "Sierra", "Stonebridge", "Sunrise", "Titan", "True North", "Vertex",
    "Cobalt", "Copperleaf", "Driftwood", "Foxglove", "Hawthorn", "Juniper", "Kingfisher",
    "Lighthouse", "Mosaic", "Northgate", "Old Mill", "Saltmarsh", "Thistle", "Wren", "Bluebell",
    "Harbourside", "Ashford", "Blackstone", "Brightwater", "Fairview", "Greenfield", "Kestrel",
)  # fmt: skip

ENGLISH_INDUSTRIES: tuple[str, ...] = (
    "Technologies", "Systems", "Solutions", "Logistics", "Manufacturing", "Industries",
    "Holdings", "Consulting", "Partners", "Analytics", "Software", "Networks", "Foods",
    "Energy", "Pharmaceuticals", "Capital", "Media", "Labs", "Engineering", "Services",
    "Supply", "Design", "Robotics", "Materials", "Instruments", "Health", "Insurance",
    "Freight", "Construction", "Hospitality", "Ventures", "Dynamics", "Electronics",
    "Biosciences", "Retail", "Textiles", "Packaging", "Motors", "Aerospace", "Marine",
    "Trading", "Associates", "International", "Data", "Security", "Environmental", "Medical",
    "Distribution", "Management", "Development",
)  # fmt: skip

ENGLISH_TITLES: tuple[str, ...] = (
    "CEO", "Chief Executive Officer", "CFO", "Chief Financial Officer", "CTO", "VP Sales",
    "Vice President of Sales", "Head of Procurement", "Purchasing Manager",
    "Accounts Payable Clerk", "IT Manager", "Office Manager", "Operations Director",
    "Sales Manager", "Marketing Director", "Project Manager", "Software Engineer",
    "Data Analyst", "Head of Finance", "Controller", "Buyer", "Customer Service Manager",
    "Facilities Manager", "Director of Operations", "Senior Buyer", "Finance Director",
)  # fmt: skip

US_PHONE_NATIONAL = ("({a}) {dash}", "{a}-{dash}", "{a}.{dot}", "({a}) {sp}", "1-{a}-{dash}")
US_PHONE_INTERNATIONAL = ("+1 {a} {sp}", "+1-{a}-{dash}", "+1{a}{raw}", "+1 ({a}) {dash}")

# ---- countries ---------------------------------------------------------------------------

US_STREET_NAMES: tuple[str, ...] = (
    "Main", "Market", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lincoln", "Jefferson",
    "Madison", "Franklin", "Park", "Lake", "Hill", "Church", "Mission", "Spring", "Highland",
    "Sunset", "Center", "River", "Union", "Commerce", "Industrial", "Harbor", "Walnut", "Chestnut",
    "Broad", "Grand",
)  # fmt: skip

US_PERSONAL_EMAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com", "aol.com",
)  # fmt: skip

US = Country(
    code="US",
    weight=0.40,
    written=("United States", "USA", "US", "United States of America", "U.S."),
    calling_code="1",
    cities=(
        City("San Francisco", "California", "CA", ("94102-94134",), ("415",), 7, ("SF",), 3),
        City("Los Angeles", "California", "CA", ("90001-90089",), ("213", "310"), 7, ("LA",), 3),
        City("San Jose", "California", "CA", ("95110-95139",), ("408",), 7),
        City("Seattle", "Washington", "WA", ("98101-98199",), ("206",), 7, (), 2),
        City("Portland", "Oregon", "OR", ("97201-97299",), ("503",), 7),
        City("Portland", "Maine", "ME", ("04101-04124",), ("207",), 7, (), 0.5),
        City("Denver", "Colorado", "CO", ("80202-80299",), ("303",), 7),
        City("Austin", "Texas", "TX", ("78701-78799",), ("512",), 7, (), 2),
        City("Dallas", "Texas", "TX", ("75201-75398",), ("214",), 7, (), 2),
        City("Houston", "Texas", "TX", ("77002-77099",), ("713",), 7, (), 2),
        City("Chicago", "Illinois", "IL", ("60601-60661",), ("312", "773"), 7, (), 3),
        City("Springfield", "Illinois", "IL", ("62701-62799",), ("217",), 7, (), 0.5),
        City("Springfield", "Massachusetts", "MA", ("01101-01199",), ("413",), 7, (), 0.5),
        City("Springfield", "Missouri", "MO", ("65801-65899",), ("417",), 7, (), 0.5),
        City("Minneapolis", "Minnesota", "MN", ("55401-55488",), ("612",), 7),
        City("Detroit", "Michigan", "MI", ("48201-48288",), ("313",), 7),
        City("Atlanta", "Georgia", "GA", ("30301-30399",), ("404",), 7, (), 2),
        City("Miami", "Florida", "FL", ("33101-33199",), ("305",), 7),
        City("Boston", "Massachusetts", "MA", ("02108-02137",), ("617",), 7, (), 2),
        City("New York", "New York", "NY", ("10001-10282",), ("212", "646"), 7, ("NYC",), 5),
        City("Philadelphia", "Pennsylvania", "PA", ("19102-19154",), ("215",), 7, ("Philly",)),
        City("Pittsburgh", "Pennsylvania", "PA", ("15201-15295",), ("412",), 7),
        City("Charlotte", "North Carolina", "NC", ("28201-28299",), ("704",), 7),
        City("Nashville", "Tennessee", "TN", ("37201-37250",), ("615",), 7),
        City("Phoenix", "Arizona", "AZ", ("85001-85099",), ("602",), 7),
        City("Salt Lake City", "Utah", "UT", ("84101-84199",), ("801",), 7, ("SLC",)),
        City("Columbus", "Ohio", "OH", ("43201-43299",), ("614",), 7),
        City("Newark", "New Jersey", "NJ", ("07101-07199",), ("973",), 7),
    ),
    legal_forms=(
        LegalForm(0.45, (" Inc.", ", Inc.", " Inc", " Incorporated"), "INC"),
        LegalForm(0.30, (" LLC", ", LLC", " L.L.C."), "LLC"),
        LegalForm(0.15, (" Corp.", " Corporation", " Corp"), "CORP"),
        LegalForm(0.10, (" Co.", " Company", " Co"), "CO"),
    ),
    first_names=US_FIRST_NAMES,
    last_names=US_LAST_NAMES,
    brands=ENGLISH_BRANDS,
    industries=ENGLISH_INDUSTRIES,
    name_patterns=(
        "{brand} {industry}",
        "{brand} {industry}",
        "{surname} {industry}",
        "{surname} {industry}",
        "{surname} & {surname2}",
        "{brand} {industry} & {industry2}",
        "{brand}",
        "The {brand} Group",
    ),
    street_names=US_STREET_NAMES,
    street_types=(
        StreetType("Street", "St"),
        StreetType("Avenue", "Ave"),
        StreetType("Boulevard", "Blvd"),
        StreetType("Road", "Rd"),
        StreetType("Drive", "Dr"),
        StreetType("Lane", "Ln"),
        StreetType("Parkway", "Pkwy"),
        StreetType("Court", "Ct"),
    ),
    street_pattern="{num} {name} {type}",
    house_numbers=(1, 9999),
    postcode_style="us",
    phone_national=US_PHONE_NATIONAL,
    phone_international=US_PHONE_INTERNATIONAL,
    mobile_areas=(),  # US mobiles use the city's area codes
    mobile_digits=7,
    mobile_starts="23456789",
    tlds=(".com", ".com", ".com", ".net", ".io", ".us"),
    personal_email_domains=US_PERSONAL_EMAIL_DOMAINS,
    titles=ENGLISH_TITLES,
    tax_id_pattern="##-#######",
    subscriber_groups=((7, (3, 4)),),
)

GB_STREET_NAMES: tuple[str, ...] = (
    "High", "Station", "Church", "Victoria", "Park", "London", "Mill", "King", "Queen", "Albert",
    "Castle", "Bridge", "Broad", "Chapel", "Manor", "Market", "New", "North", "South", "Kings",
    "Princes", "Canal", "Wharf", "George", "York",
)  # fmt: skip

GB_PERSONAL_EMAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com", "outlook.com", "hotmail.co.uk", "yahoo.co.uk", "btinternet.com",
)  # fmt: skip

GB = Country(
    code="GB",
    weight=0.20,
    written=("United Kingdom", "UK", "GB", "Great Britain", "England"),
    calling_code="44",
    cities=(
        City(
            "London",
            "Greater London",
            "",
            ("EC1A", "EC2A", "EC3M", "EC4M", "WC2N", "W1F", "W1T", "SW1A", "SE1", "N1", "E1"),
            ("20",),
            8,
            (),
            5,
            subscriber_starts="378",
        ),
        City("Manchester", "Greater Manchester", "", ("M1", "M2", "M3", "M4"), ("161",), 7, (), 2),
        City(
            "Birmingham",
            "West Midlands",
            "",
            ("B1", "B2", "B3", "B4"),
            ("121",),
            7,
            (),
            2,
            subscriber_starts="234567",
        ),
        City(
            "Leeds",
            "West Yorkshire",
            "",
            ("LS1", "LS2", "LS11"),
            ("113",),
            7,
            subscriber_starts="2345",
        ),
        City("Bristol", "", "", ("BS1", "BS2", "BS8"), ("117",), 7, subscriber_starts="234"),
        City(
            "Edinburgh",
            "Midlothian",
            "",
            ("EH1", "EH2", "EH3"),
            ("131",),
            7,
            subscriber_starts="2345678",
        ),
        City("Glasgow", "", "", ("G1", "G2", "G3"), ("141",), 7),
        City(
            "Cardiff",
            "South Glamorgan",
            "",
            ("CF10", "CF11"),
            ("29",),
            8,
            ("Caerdydd",),
            subscriber_starts="2",
        ),
        City(
            "Newcastle upon Tyne", "Tyne and Wear", "", ("NE1", "NE2"), ("191",), 7, ("Newcastle",)
        ),
        City("Cambridge", "Cambridgeshire", "", ("CB1", "CB2"), ("1223",), 6),
        City("Oxford", "Oxfordshire", "", ("OX1", "OX2"), ("1865",), 6),
        City("Reading", "Berkshire", "", ("RG1", "RG2"), ("118",), 7, subscriber_starts="234"),
    ),
    legal_forms=(
        LegalForm(0.75, (" Ltd", " Ltd.", " Limited"), "LTD"),
        LegalForm(0.15, (" plc", " PLC", " Public Limited Company"), "PLC"),
        LegalForm(0.10, (" LLP",), "LLP"),
    ),
    first_names=GB_FIRST_NAMES,
    last_names=GB_LAST_NAMES,
    brands=ENGLISH_BRANDS,
    industries=ENGLISH_INDUSTRIES,
    name_patterns=(
        "{brand} {industry}",
        "{brand} {industry}",
        "{surname} {industry}",
        "{surname} & Sons",
        "{surname} & {surname2}",
        "{brand} {industry} & {industry2}",
        "{brand} Group",
    ),
    street_names=GB_STREET_NAMES,
    street_types=(
        StreetType("Street", "St"),
        StreetType("Road", "Rd"),
        StreetType("Lane", "Ln"),
        StreetType("Avenue", "Ave"),
        StreetType("Way", "Way"),
        StreetType("Place", "Pl"),
        StreetType("Square", "Sq"),
    ),
    street_pattern="{num} {name} {type}",
    house_numbers=(1, 250),
    postcode_style="gb",
    phone_national=("0{a} {sp}", "0{a} {raw}", "0{a}{raw}", "(0{a}) {sp}"),
    phone_international=("+44 {a} {sp}", "+44 (0){a} {sp}", "+44{a}{raw}", "0044 {a} {sp}"),
    mobile_areas=("7400", "7712", "7723", "7734", "7745", "7756", "7801", "7812", "7922"),
    mobile_digits=6,
    mobile_starts="0128",
    tlds=(".co.uk", ".co.uk", ".com", ".uk"),
    personal_email_domains=GB_PERSONAL_EMAIL_DOMAINS,
    titles=(*ENGLISH_TITLES, "Managing Director", "Head of Purchasing", "Company Secretary"),
    tax_id_pattern="GB#########",
    subscriber_groups=((8, (4, 4)), (7, (3, 4)), (6, (6,))),
)

DE_BRANDS: tuple[str, ...] = (
    "Nordwerk", "Alpen", "Rhein", "Elbe", "Isar", "Spree", "Sonnen", "Stern", "Adler", "Donau",
    "Hansa", "Kronen", "Linden", "Neckar", "Schwarzwald", "Südwest", "Weser", "Eichen", "Löwen",
    "Bären", "Falken", "Tannen", "Mühlen", "Brücken",
)  # fmt: skip

DE_INDUSTRIES: tuple[str, ...] = (
    "Maschinenbau", "Logistik", "Elektrotechnik", "Systeme", "Handel", "Bau", "Anlagenbau",
    "Technik", "Software", "Beratung", "Versicherung", "Metallbau", "Medizintechnik", "Energie",
    "Umwelttechnik", "Verpackung", "Druckerei", "Lebensmittel", "Immobilien", "Holding",
    "Spedition", "Chemie", "Kunststoffe", "Werkzeugbau", "Präzisionstechnik", "Getränke",
    "Möbelwerke", "Stahlbau", "Gerätebau", "Verwaltung", "Industrie",
)  # fmt: skip

DE_STREET_NAMES: tuple[str, ...] = (
    "Haupt", "Bahnhof", "Garten", "Schul", "Dorf", "Berg", "Kirch", "Wald", "Linden", "Goethe",
    "Schiller", "Mozart", "Friedrich", "Industrie", "Gewerbe", "Hafen", "Markt", "Rosen", "Birken",
    "Königs", "Mühlen", "Schloß", "Wiesen",
)  # fmt: skip

DE_TITLES: tuple[str, ...] = (
    "Geschäftsführer", "Geschäftsführerin", "Einkaufsleiter", "Leiter Einkauf",
    "Leiterin Buchhaltung", "Vertriebsleiter", "IT-Leiter", "Prokurist", "Sachbearbeiterin",
    "Head of Procurement", "CFO", "Projektleiter", "Technischer Leiter",
)  # fmt: skip

DE = Country(
    code="DE",
    weight=0.17,
    written=("Germany", "Deutschland", "DE", "Federal Republic of Germany"),
    calling_code="49",
    cities=(
        City("Berlin", "Berlin", "BE", ("10115-14199",), ("30",), 8, (), 3),
        City("Hamburg", "Hamburg", "HH", ("20095-22769",), ("40",), 8, (), 2),
        City("München", "Bayern", "BY", ("80331-81929",), ("89",), 8, ("Munich", "Muenchen"), 2),
        City("Köln", "Nordrhein-Westfalen", "NW", ("50667-51149",), ("221",), 7, ("Cologne",), 2),
        City("Frankfurt am Main", "Hessen", "HE", ("60311-60599",), ("69",), 8, ("Frankfurt",), 2),
        City("Stuttgart", "Baden-Württemberg", "BW", ("70173-70629",), ("711",), 7),
        City("Düsseldorf", "Nordrhein-Westfalen", "NW", ("40210-40629",), ("211",), 7),
        City("Leipzig", "Sachsen", "SN", ("04103-04357",), ("341",), 7),
        City("Dresden", "Sachsen", "SN", ("01067-01326",), ("351",), 7),
        City("Nürnberg", "Bayern", "BY", ("90402-90491",), ("911",), 7, ("Nuremberg",)),
        City("Hannover", "Niedersachsen", "NI", ("30159-30669",), ("511",), 7, ("Hanover",)),
        City("Bremen", "Bremen", "HB", ("28195-28779",), ("421",), 7),
    ),
    legal_forms=(
        LegalForm(0.70, (" GmbH", " G.m.b.H.", " Gesellschaft mit beschränkter Haftung"), "GMBH"),
        LegalForm(0.15, (" AG", " Aktiengesellschaft"), "AG"),
        LegalForm(0.15, (" GmbH & Co. KG", " GmbH & Co KG"), "GMBH & CO KG"),
    ),
    first_names=DE_FIRST_NAMES,
    last_names=DE_LAST_NAMES,
    brands=DE_BRANDS,
    industries=DE_INDUSTRIES,
    name_patterns=(
        "{surname} {industry}",
        "{surname} {industry}",
        "{brand} {industry}",
        "{brand} {industry}",
        "{surname} & Söhne",
        "{surname} & {surname2}",
        "{brand} {industry} und {industry2}",
    ),
    street_names=DE_STREET_NAMES,
    street_types=(
        StreetType("straße", "str."),
        StreetType("straße", "str."),
        StreetType("weg", "weg"),
        StreetType("allee", "allee"),
        StreetType("platz", "pl."),
        StreetType("ring", "ring"),
    ),
    street_pattern="{name}{type} {num}",
    house_numbers=(1, 180),
    postcode_style="digits5",
    phone_national=("0{a} {raw}", "0{a}/{raw}", "(0{a}) {raw}", "0{a}-{raw}", "0{a} {sp}"),
    phone_international=("+49 {a} {raw}", "+49 (0){a} {raw}", "+49{a}{raw}", "0049 {a} {raw}"),
    mobile_areas=("151", "152", "157", "159", "160", "162", "170", "171", "172", "176"),
    mobile_digits=8,
    mobile_starts="23456789",
    tlds=(".de", ".de", ".de", ".com", ".eu"),
    personal_email_domains=("gmail.com", "web.de", "gmx.de", "t-online.de", "outlook.de"),
    titles=DE_TITLES,
    tax_id_pattern="DE#########",
    subscriber_groups=((8, (4, 4)), (7, (3, 4))),
)

FR_BRANDS: tuple[str, ...] = (
    "Atlantique", "Provence", "Lumière", "Horizon", "Azur", "Étoile", "Alpes", "Bretagne", "Loire",
    "Seine", "Rhône", "Méditerranée", "Normandie", "Océan", "Soleil", "Vallée", "Pyrénées",
    "Cèdre", "Mistral", "Garonne",
)  # fmt: skip

FR_INDUSTRIES: tuple[str, ...] = (
    "Conseil", "Logistique", "Industries", "Ingénierie", "Systèmes", "Technologies", "Services",
    "Transports", "Distribution", "Bâtiment", "Énergie", "Informatique", "Électronique",
    "Alimentaire", "Immobilier", "Assurances", "Emballages", "Mécanique", "Chimie", "Automobiles",
    "Textiles", "Matériaux", "Santé",
)  # fmt: skip

FR_STREET_NAMES: tuple[str, ...] = (
    "de la Paix", "du Commerce", "Victor Hugo", "de la République", "Jean Jaurès", "Pasteur",
    "des Lilas", "du Général Leclerc", "de Rivoli", "Nationale", "Gambetta", "Voltaire",
    "de la Gare", "des Écoles", "Saint-Honoré", "Haussmann", "Foch", "de Verdun", "du Moulin",
    "des Tilleuls",
)  # fmt: skip

FR_TITLES: tuple[str, ...] = (
    "Directeur Général", "Directrice Générale", "Responsable Achats", "Directeur Financier",
    "Chef de projet", "Responsable informatique", "Acheteur", "Comptable", "PDG",
    "Directrice commerciale", "Head of Procurement", "Assistante de direction",
)  # fmt: skip

FR = Country(
    code="FR",
    weight=0.13,
    written=("France", "FR", "République française", "Frankreich"),
    calling_code="33",
    cities=(
        City("Paris", "Île-de-France", "IDF", ("75001-75020",), ("1",), 8, (), 4),
        City("Lyon", "Auvergne-Rhône-Alpes", "ARA", ("69001-69009",), ("4",), 8, (), 2),
        City("Marseille", "Provence-Alpes-Côte d'Azur", "PACA", ("13001-13016",), ("4",), 8),
        City(
            "Toulouse", "Occitanie", "OCC", ("31000-31500",), ("5",), 8, subscriber_starts="2345678"
        ),
        City("Nice", "Provence-Alpes-Côte d'Azur", "PACA", ("06000-06300",), ("4",), 8),
        City("Nantes", "Pays de la Loire", "PDL", ("44000-44300",), ("2",), 8),
        City("Strasbourg", "Grand Est", "GES", ("67000-67200",), ("3",), 8, ("Straßburg",)),
        City(
            "Bordeaux",
            "Nouvelle-Aquitaine",
            "NAQ",
            ("33000-33800",),
            ("5",),
            8,
            subscriber_starts="2345678",
        ),
        City("Lille", "Hauts-de-France", "HDF", ("59000-59800",), ("3",), 8),
        City("Rennes", "Bretagne", "BRE", ("35000-35700",), ("2",), 8, subscriber_starts="234578"),
    ),
    legal_forms=(
        LegalForm(0.50, (" SAS", " S.A.S.", " S.A.S"), "SAS"),
        LegalForm(0.30, (" SA", " S.A."), "SA"),
        LegalForm(0.20, (" SARL", " S.A.R.L.", " Sarl"), "SARL"),
    ),
    first_names=FR_FIRST_NAMES,
    last_names=FR_LAST_NAMES,
    brands=FR_BRANDS,
    industries=FR_INDUSTRIES,
    name_patterns=(
        "{industry} {surname}",
        "{industry} {brand}",
        "{brand} {industry}",
        "Groupe {surname}",
        "{surname} et Fils",
        "Établissements {surname}",
        "Société {brand} de {industry}",
    ),
    street_names=FR_STREET_NAMES,
    street_types=(
        StreetType("rue", "r."),
        StreetType("rue", "r."),
        StreetType("avenue", "av."),
        StreetType("boulevard", "bd"),
        StreetType("place", "pl."),
        StreetType("quai", "quai"),
        StreetType("allée", "all."),
    ),
    street_pattern="{num} {type} {name}",
    house_numbers=(1, 200),
    postcode_style="digits5",
    phone_national=("0{a} {sp}", "0{a}.{dot}", "0{a}{raw}", "0{a}-{dash}"),
    phone_international=("+33 {a} {sp}", "+33 (0){a} {sp}", "+33{a}{raw}", "0033 {a} {sp}"),
    mobile_areas=("6",),
    mobile_digits=8,
    mobile_starts="245678",
    tlds=(".fr", ".fr", ".fr", ".com", ".eu"),
    personal_email_domains=("gmail.com", "orange.fr", "free.fr", "laposte.net", "hotmail.fr"),
    titles=FR_TITLES,
    tax_id_pattern="FR###########",
    subscriber_groups=((8, (2, 2, 2, 2)),),
)

NL_BRANDS: tuple[str, ...] = (
    "Noordzee", "Polder", "Tulp", "Delta", "Molen", "Oranje", "Zuid", "Horizon", "Dijk", "Gouden",
    "Blauwe", "Eiland", "Haven", "Kroon", "Lelie", "Duin", "Windkracht",
)  # fmt: skip

NL_INDUSTRIES: tuple[str, ...] = (
    "Techniek", "Logistiek", "Bouw", "Installatietechniek", "Transport", "Handel", "Groep",
    "Advies", "Software", "Systemen", "Verpakkingen", "Metaal", "Energie", "Vastgoed", "Zorg",
    "Voeding", "Machinebouw", "Scheepvaart",
)  # fmt: skip

NL_STREET_NAMES: tuple[str, ...] = (
    "Kerk", "Dorps", "Molen", "Stations", "Heren", "Keizers", "Prinsen", "Hoog", "Nieuwe", "Oude",
    "Markt", "Haven", "Industrie", "Wilhelmina", "Juliana", "Beatrix", "Oranje", "Zuid", "Noord",
    "Parallel",
)  # fmt: skip

NL_TITLES: tuple[str, ...] = (
    "Directeur", "Algemeen Directeur", "Inkoper", "Hoofd Inkoop", "Financieel Directeur",
    "Office Manager", "Projectleider", "Accountmanager", "CFO", "IT-manager",
    "Medewerker Crediteurenadministratie",
)  # fmt: skip

NL = Country(
    code="NL",
    weight=0.10,
    written=("Netherlands", "The Netherlands", "Nederland", "Holland", "NL"),
    calling_code="31",
    cities=(
        City("Amsterdam", "Noord-Holland", "NH", ("1011-1109",), ("20",), 7, (), 3),
        City("Rotterdam", "Zuid-Holland", "ZH", ("3011-3089",), ("10",), 7, (), 2),
        City(
            "Den Haag",
            "Zuid-Holland",
            "ZH",
            ("2491-2599",),
            ("70",),
            7,
            ("The Hague", "'s-Gravenhage"),
            2,
        ),
        City("Utrecht", "Utrecht", "UT", ("3511-3585",), ("30",), 7, (), 2),
        City("Eindhoven", "Noord-Brabant", "NB", ("5611-5658",), ("40",), 7),
        City("Groningen", "Groningen", "GR", ("9711-9747",), ("50",), 7),
        City("Tilburg", "Noord-Brabant", "NB", ("5011-5049",), ("13",), 7),
        City("Almere", "Flevoland", "FL", ("1311-1363",), ("36",), 7),
        City("Breda", "Noord-Brabant", "NB", ("4811-4839",), ("76",), 7),
        City("Nijmegen", "Gelderland", "GE", ("6511-6546",), ("24",), 7),
    ),
    legal_forms=(
        LegalForm(0.80, (" B.V.", " BV", " B.V"), "BV"),
        LegalForm(0.20, (" N.V.", " NV"), "NV"),
    ),
    first_names=NL_FIRST_NAMES,
    last_names=NL_LAST_NAMES,
    brands=NL_BRANDS,
    industries=NL_INDUSTRIES,
    name_patterns=(
        "{surname} {industry}",
        "{surname} {industry}",
        "{brand} {industry}",
        "{brand} {industry}",
        "Koninklijke {surname}",
        "{surname} & Zonen",
        "{brand} {industry} en {industry2}",
    ),
    street_names=NL_STREET_NAMES,
    street_types=(
        StreetType("straat", "str."),
        StreetType("straat", "str."),
        StreetType("weg", "wg."),
        StreetType("laan", "ln."),
        StreetType("gracht", "gr."),
        StreetType("plein", "pl."),
        StreetType("kade", "kd."),
        StreetType("singel", "sngl."),
    ),
    street_pattern="{name}{type} {num}",
    house_numbers=(1, 400),
    postcode_style="nl",
    phone_national=("0{a} {sp}", "0{a}-{raw}", "0{a} {raw}", "(0{a}) {sp}"),
    phone_international=("+31 {a} {sp}", "+31 (0){a} {raw}", "+31{a}{raw}", "0031 {a} {raw}"),
    mobile_areas=("6",),
    mobile_digits=8,
    mobile_starts="12345",
    tlds=(".nl", ".nl", ".nl", ".com", ".eu"),
    personal_email_domains=("gmail.com", "hotmail.com", "ziggo.nl", "kpnmail.nl", "outlook.com"),
    titles=NL_TITLES,
    tax_id_pattern="NL#########B01",
    subscriber_groups=((7, (3, 4)), (8, (8,))),
)

COUNTRIES: tuple[Country, ...] = (US, GB, DE, FR, NL)

# How an ERP (35-character upper-case name fields) abbreviates words of company names.
ERP_ABBREVIATIONS: dict[str, str] = {
    "HOLDINGS": "HLDGS",
    "INTERNATIONAL": "INTL",
    "TECHNOLOGIES": "TECH",
    "MANUFACTURING": "MFG",
    "INDUSTRIES": "IND",
    "SERVICES": "SVCS",
    "SYSTEMS": "SYS",
    "SOLUTIONS": "SOLNS",
    "ASSOCIATES": "ASSOC",
    "MANAGEMENT": "MGMT",
    "ENGINEERING": "ENGG",
    "CONSULTING": "CONSLT",
    "LOGISTICS": "LOGISTX",
    "DEVELOPMENT": "DEV",
    "DISTRIBUTION": "DISTR",
    "ELECTRONICS": "ELEC",
    "ENVIRONMENTAL": "ENVTL",
    "PHARMACEUTICALS": "PHARMA",
    "GROUP": "GRP",
    "INSURANCE": "INS",
    "CONSTRUCTION": "CONSTR",
    "PARTNERS": "PTNRS",
    "AND": "&",
    "MASCHINENBAU": "MASCH.BAU",
    "ELEKTROTECHNIK": "ELEKTROTECHN.",
    "VERWALTUNG": "VERW.",
    "PRÄZISIONSTECHNIK": "PRÄZ.TECHN.",
    "MEDIZINTECHNIK": "MED.TECHN.",
    "UND": "U.",
    "ÉTABLISSEMENTS": "ETS",
    "SOCIÉTÉ": "STE",
    "INGÉNIERIE": "ING.",
    "KONINKLIJKE": "KON.",
    "INSTALLATIETECHNIEK": "INST.TECHN.",
}

# German-style transliteration, as an ASCII-only system (or person) writes umlauts.
TRANSLITERATIONS: dict[str, str] = {
    "ä": "ae",
    "ö": "oe",
    "ü": "ue",
    "Ä": "Ae",
    "Ö": "Oe",
    "Ü": "Ue",
    "ß": "ss",
}

# "&" written out, per country, as people sometimes type it in a company name.
AMPERSAND_WORDS: dict[str, str] = {"US": "and", "GB": "and", "DE": "und", "FR": "et", "NL": "en"}

# Web addresses as people type them into a CRM "Website" field.
WEBSITE_FORMATS: tuple[str, ...] = (
    "https://www.{d}",
    "https://www.{d}",
    "www.{d}",
    "www.{d}",
    "{d}",
    "http://www.{d}",
    "https://{d}/",
    "http://{d}",
    "https://www.{d}/contact",
)

# How a foreign subsidiary tells itself apart from its parent: "Acme Logistics UK Ltd".
SUBSIDIARY_LABELS: dict[str, str] = {
    "US": "USA",
    "GB": "UK",
    "DE": "Deutschland",
    "FR": "France",
    "NL": "Nederland",
}

# Work email addresses, one pattern per organisation, over {f} first name, {l} last name and
# {i} first initial (all lower-case ASCII).
WORK_EMAIL_PATTERNS: tuple[str, ...] = (
    "{f}.{l}",
    "{f}.{l}",
    "{f}.{l}",
    "{i}{l}",
    "{i}{l}",
    "{f}{l}",
    "{f}_{l}",
    "{i}.{l}",
    "{f}",
)

# Personal mailboxes, over the same fields plus {n} (the name a person goes by) and {yy}
# (two digits, as people add a birth year).
PERSONAL_EMAIL_PATTERNS: tuple[str, ...] = (
    "{f}.{l}",
    "{f}{l}",
    "{f}.{l}{yy}",
    "{i}{l}{yy}",
    "{n}{l}",
    "{n}.{l}{yy}",
    "{l}.{f}",
)

# A mailbox a family shares.
FAMILY_EMAIL_PATTERNS: tuple[str, ...] = ("the{l}s", "{l}family", "{l}.family", "{l}.home")
