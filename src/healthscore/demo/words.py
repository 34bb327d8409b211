"""Word lists and catalogues the demo company is drawn from.

Plain tuples, so a change here is a visible diff; generated names are combinations of these.
"""

from __future__ import annotations

PLANS = ("Starter", "Business", "Enterprise")
SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
LIFECYCLE = ("Onboarding", "Adoption", "Mature", "Renewal", "Churned")
OUTCOMES = ("churned", "contracted", "renewed", "expanded")

#: List price per seat and year, by plan (USD).
SEAT_PRICE = (360.0, 720.0, 1200.0)

INDUSTRIES = (
    "logistics", "healthcare", "financial services", "retail", "manufacturing", "software",
    "education", "media", "real estate", "energy", "professional services", "insurance",
)

#: Second word of a company name, one tuple per industry (same order as INDUSTRIES).
INDUSTRY_WORDS = (
    ("Logistics", "Freight", "Shipping", "Transport", "Cargo"),
    ("Health", "Clinics", "Medical", "Care", "Biosciences"),
    ("Capital", "Finance", "Payments", "Bank", "Advisors"),
    ("Retail", "Stores", "Outfitters", "Market", "Goods"),
    ("Manufacturing", "Industries", "Works", "Fabrication", "Machining"),
    ("Software", "Labs", "Systems", "Digital", "Technologies"),
    ("Learning", "Academy", "Education", "Schools", "Tutoring"),
    ("Media", "Studios", "Publishing", "Broadcasting", "Creative"),
    ("Properties", "Realty", "Estates", "Homes", "Developments"),
    ("Energy", "Power", "Solar", "Utilities", "Renewables"),
    ("Consulting", "Partners", "Associates", "Advisory", "Group"),
    ("Insurance", "Assurance", "Underwriters", "Mutual", "Risk"),
)

NAME_STEMS = (
    "Northwind", "Blue Harbor", "Summit", "Redwood", "Silver Lake", "Brightline", "Cedar",
    "Granite", "Ironbridge", "Juniper", "Keystone", "Lumen", "Maple Leaf", "Nimbus", "Oakridge",
    "Pioneer", "Quantum", "Riverbend", "Sterling", "Trident", "Union Square", "Vertex", "Willow",
    "Apex", "Beacon", "Cobalt", "Delta", "Evergreen", "Falcon", "Golden Gate", "Horizon",
    "Indigo", "Jadestone", "Kestrel", "Lighthouse", "Meridian", "Nova", "Orbit", "Pinnacle",
    "Quarry", "Rocket", "Sapphire", "Tidewater", "Uplift", "Vantage", "Westfield", "Yellowstone",
    "Zenith", "Atlas", "Bluebird", "Copperfield", "Driftwood", "Ember", "Foxglove", "Greystone",
    "Highland", "Ivory", "Lakeshore", "Moonstone", "Northstar", "Oceanic", "Prairie", "Ridgeway",
    "Stonebridge", "Thistle", "Valley", "Windmill", "Acorn", "Birchwood", "Crescent", "Dunmore",
    "Elmstead", "Fairview", "Glacier", "Hawthorne", "Kingsley", "Larkspur", "Marigold",
)

LEGAL_FORMS = (
    "Inc.", "LLC", "Ltd", "Corp.", "Co.", "GmbH", "AG", "S.A.", "B.V.", "AB", "plc", "Pty Ltd",
    "", "", "",
)

#: Names an international customer base brings: non-ASCII letters, commas and quotes, which an
#: honest CSV/JSON writer must survive. A special name is prefix + stem + suffix.
SPECIAL_STEMS = (
    "Müller", "Østergaard", "Łukasiewicz", "Gonçalves", "Åberg", "Dvořák", "Ibáñez",
    "Kovačević", "Jørgensen", "Zürich", "São Paulo", "Nørrebro", "Ōsaka", "O'Brien", "Café Crème",
    "Blue Door", "Straße", "Škoda", "Façade", "Québec",
)
SPECIAL_FORMS = (
    ("", " & Söhne, GmbH"), ("", ", Inc."), ('The "', '" Company'), ("", " Logística, S.A."),
    ("", ", Walsh & Partners LLP"), ('"', '" Consulting Ltd'), ("", " Präzision AG"),
    ("", " & Co. ApS"), ("Grupo ", ", S.L."), ("", " Trading K.K."),
)

FIRST_NAMES = (
    "maria", "james", "sofia", "liam", "emma", "noah", "olivia", "lucas", "ava", "mateo",
    "mia", "ethan", "chloe", "daniel", "hannah", "samuel", "grace", "david", "zoe", "aaron",
    "priya", "arjun", "mei", "wei", "yuki", "kenji", "fatima", "omar", "amara", "kwame",
    "lena", "jonas", "elif", "mehmet", "ines", "pablo", "clara", "hugo", "nina", "felix",
    "sara", "tom", "julia", "max", "anna", "leo", "eva", "oscar", "ida", "erik",
    "laura", "marco", "giulia", "luca", "rachel", "ben", "nora", "adam", "alice", "victor",
)

LAST_NAMES = (
    "lopez", "smith", "garcia", "johnson", "brown", "williams", "jones", "miller", "davis",
    "martinez", "wilson", "anderson", "taylor", "thomas", "moore", "martin", "jackson", "lee",
    "white", "harris", "clark", "lewis", "walker", "hall", "young", "king", "wright", "scott",
    "green", "baker", "adams", "nelson", "hill", "campbell", "mitchell", "roberts", "carter",
    "phillips", "evans", "turner", "patel", "shah", "kim", "park", "chen", "wang", "tanaka",
    "sato", "nguyen", "tran", "okafor", "mensah", "schmidt", "fischer", "weber", "novak",
    "rossi", "bianchi", "dubois", "moreau", "silva", "santos", "kowalski", "nowak", "berg",
    "larsen", "byrne", "murphy", "oconnor", "fernandez", "costa", "ahmed", "ali", "khan",
)

#: Capitalised spellings for contact names, with a few non-ASCII ones.
CONTACT_LAST_NAMES = tuple(n.capitalize() for n in LAST_NAMES) + (
    "Müller", "Jørgensen", "Łukasik", "Gonçalves", "Dvořák", "Ibáñez", "Åberg", "Søndergaard",
)

#: (event name, core?, lowest plan index that has it, base weight, batched?)
FEATURES = (
    ("dashboard.viewed", True, 0, 30.0, False),
    ("report.viewed", True, 0, 18.0, False),
    ("record.created", True, 0, 14.0, False),
    ("record.updated", True, 0, 16.0, False),
    ("search.performed", True, 0, 10.0, False),
    ("report.created", True, 0, 5.0, False),
    ("comment.added", True, 0, 6.0, False),
    ("task.completed", True, 0, 8.0, False),
    ("notification.opened", True, 0, 7.0, False),
    ("file.uploaded", True, 0, 3.0, False),
    ("export.downloaded", True, 0, 2.5, False),
    ("user.invited", True, 0, 0.6, False),
    ("dashboard.created", False, 0, 1.5, False),
    ("dashboard.shared", False, 0, 1.5, False),
    ("report.scheduled", False, 0, 1.2, False),
    ("custom_field.created", False, 0, 0.8, False),
    ("data.imported", False, 0, 0.8, False),
    ("alert.configured", False, 0, 0.7, False),
    ("integration.synced", False, 1, 4.0, True),
    ("automation.created", False, 1, 0.8, False),
    ("automation.run", False, 1, 4.0, True),
    ("api.called", False, 1, 4.0, True),
    ("workflow.published", False, 1, 0.6, False),
    ("forecast.generated", False, 2, 1.2, False),
    ("sso.login", False, 2, 3.0, False),
    ("audit_log.viewed", False, 2, 0.5, False),
)

#: Features that look *more* used when an account is unhealthy (people look, they don't build).
PASSIVE_FEATURES = ("dashboard.viewed", "report.viewed", "notification.opened")

USER_ROLES = ("admin", "member", "viewer")

CONTACT_ROLES = ("champion", "exec_sponsor", "decision_maker", "admin", "user")

COURSES = (
    "getting-started-101", "admin-101", "reporting-basics", "dashboards-201", "automation-201",
    "integrations-301", "api-301", "data-import-101", "security-and-sso", "power-user-401",
)

GOALS = (
    "replaced legacy spreadsheet process", "cut month-end close by two days",
    "automated weekly reporting", "onboarded all regional teams", "reduced manual data entry",
    "single source of truth for pipeline", "faster customer onboarding",
    "executive dashboard adopted", "integrated with ERP", "reduced support backlog",
    "passed compliance audit", "self-serve analytics for managers",
)

TICKET_SUBJECTS = (
    "Cannot log in after password reset", "Export to CSV times out", "Question about invoice",
    "SSO configuration help", "Dashboard loading slowly", "Integration sync errors",
    "How do I schedule a report?", "Users not receiving notifications", "API rate limit reached",
    "Data import failed with \"invalid date\"", "Request: bulk edit records",
    "Permissions for new team", "Automation did not run", "Chart shows wrong totals",
    "Add seats to our plan", "Error 500 when saving a record", "Mobile app crashes on start",
    "Need help with custom fields", "Webhook deliveries failing", "Cancel or downgrade options",
)

NPS_COMMENTS = (
    # detractors (0-6)
    ("Too slow for our team", "Support takes days to answer", "Missing features we need",
     "Hard to get people to use it", "Pricing is hard to justify", "Too many bugs lately"),
    # passives (7-8)
    ("Does the job", "Good, but reporting could be better", "Solid product, some rough edges",
     "Onboarding took a while", "Fine for now"),
    # promoters (9-10)
    ("Great support team", "Our whole company runs on it", "Saves us hours every week",
     "Love the dashboards", "The integrations are excellent", "Best tool we bought this year"),
)

PULSE_COMMENTS = (
    ("champion left", "usage dropped sharply", "escalation open with exec sponsor",
     "budget cuts announced", "evaluating a competitor"),
    ("quiet lately", "new stakeholders, relationship to rebuild", "mixed feedback at QBR",
     "slow rollout to second team"),
    ("strong QBR", "expanding to new department", "very engaged champion",
     "asked about enterprise plan", "happy with latest release"),
)

#: UTC offsets (minutes) customers live in, and how often.
UTC_OFFSETS = (-480, -420, -360, -300, -240, 0, 60, 120, 180, 330, 480, 540, 600)
UTC_OFFSET_WEIGHTS = (0.08, 0.04, 0.08, 0.2, 0.04, 0.1, 0.16, 0.1, 0.03, 0.05, 0.04, 0.04, 0.04)
