#!/usr/bin/env python3
"""Generate the embedded sample that the default ``tome curate`` run uses.

    python data/make_sample.py            # (re)write data/sample.jsonl and data/sample_truth.json
    python data/make_sample.py --check    # regenerate in memory; exit 1 if the committed files differ

Everything here is our own: a fixed-seed generator that writes FineTome-shaped conversations
(``{"conversations": [{"from", "value"}...], "source", "score", "lang"}``) from templates and word lists
in this file, then plants the cases the curation stages must find (exact and near duplicates, rows each
filter must drop, malformed lines validation must quarantine) and records them in the truth file.
No rows are read from anywhere. Standard library and numpy only; two runs give byte-identical files.

Before writing, the generator checks what it planted: every near-duplicate copy has word-5-gram Jaccard
>= 0.85 with its original (the shingling of ``curation/minhash/shingles.py``), no two rows outside a
planted group reach Jaccard 0.5 (exact, over the whole file), clean rows pass the default filters with a
margin, and each planted filter row fails its own filter and passes every other.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import struct
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

import numpy as np

SEED = 20250321
HERE = Path(__file__).resolve().parent
SAMPLE_PATH = HERE / "sample.jsonl"
TRUTH_PATH = HERE / "sample_truth.json"

# How many of each kind to plant.
CLEAN_PER_SOURCE = {  # imbalanced on purpose, so that source balancing has something to cap
    "infini-instruct-top-500k": 1000,
    "WebInstructSub_axolotl": 620,
    "The-Tome": 430,
    "evol-instruct": 280,
    "airoboros": 190,
    "financial-instructions-cleaned-2": 36,  # the thin source
}
EXACT_GROUPS = 150
NEAR_GROUPS = 150
FILTER_PLAN = {
    "filter:answer_too_short": 30,
    "filter:repeated_lines": 25,
    "filter:repeated_ngrams": 25,
    "filter:prompt_answer_ratio": 30,
    "filter:roles_not_alternating": 32,
    "filter:turn_too_long": 8,
}
LOW_SCORE_ROWS = 30
MALFORMED_PLAN = {
    "missing_conversations": 8,
    "conversations_not_list": 7,
    "empty_conversations": 7,
    "turn_missing_value": 8,
    "unknown_role": 8,
    "value_not_string": 8,
    "no_gpt_turn": 7,
    "invalid_json": 8,
}
NEAR_MIN_JACCARD = 0.85  # asserted for every planted copy
NEAR_TARGET_JACCARD = 0.87  # copies below this are re-drawn (margin over the 0.85 promise)
INDEPENDENT_MAX_JACCARD = 0.5  # asserted for every pair outside a planted group

# The default FiltersConfig thresholds (curation/config.py), restated so the generator stays stdlib-only.
MIN_ANSWER_CHARS = 8
MIN_ANSWER_WORDS = 2
MAX_CHARS_PER_TURN = 32_000
MAX_WORDS_PER_TURN = 6_000
MAX_PROMPT_ANSWER_RATIO = 20.0
MAX_REPEATED_LINE_FRACTION = 0.3
MAX_REPEATED_LINE_CHAR_FRACTION = 0.2
TOP_NGRAM_MAX_FRACTION = {2: 0.20, 3: 0.18, 4: 0.16}
DUP_NGRAM_MAX_FRACTION = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
MIN_WORDS_FOR_REPETITION = 50
CLEAN_MARGIN = 0.75  # clean rows stay below this fraction of every threshold


# ----------------------------------------------------------------------------------------------------
# Lexicon: real English words and phrases, grouped by the slot they fill.
# ----------------------------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    """A list from a ``|``-separated block (newlines and spaces around items ignored)."""
    return [w.strip() for w in text.replace("\n", " ").split("|") if w.strip()]


LEX: dict[str, list[str]] = {
    "name": words(
        """Amara | Benjamin | Chloé | Daniel | Elena | Farid | Grace | Hiroshi | Isabel | Jonas | Kavya | Liam |
        Mónica | Nadia | Oscar | Priya | Quentin | Rosa | Samuel | Tamsin | Ulrich | Valeria | Wen | Ximena |
        Yusuf | Zoë | Aaron | Beatriz | Callum | Dalia | Emeka | Fiona | Gustavo | Hana | Ibrahim | Julia |
        Kenji | Leila | Mateo | Noor | Olivia | Pablo | Rania | Stefan | Tara | Umar | Vera | William | Yara |
        André | Inés | José | Renée | Raúl | Noémie | Joël | François | Jürgen | Ángel | Anika | Bruno | Carmen |
        Dmitri | Esther | Felix | Gabriela | Hassan | Ingrid | Jamal | Katrin | Lucas | Maya | Nikolai | Omar |
        Paulina | Ruth | Sofia | Thomas | Uma | Victor | Wanda | Yasmin | Zain | Adele | Bashir | Celeste |
        Dorian | Eliza | Tobias | Marisol | Leon | Aditi | Colm | Soraya | Hugo | Ines | Kofi | Lena | Miguel"""
    ),
    "adj": words(
        """careful | practical | simple | detailed | useful | common | gradual | steady | rapid | subtle |
        noticeable | significant | modest | reliable | consistent | accurate | efficient | flexible | robust |
        fragile | complex | familiar | unusual | surprising | predictable | measurable | visible | hidden |
        natural | local | early | brief | narrow | broad | shallow | dense | sparse | warm | humid | bright |
        quiet | ancient | modern | rural | urban | coastal | seasonal | gentle | harsh | balanced | uneven |
        smooth | rough | clear | direct | indirect | central | typical | rare | frequent | occasional | vital |
        minor | major | crucial | essential | basic | advanced | formal | informal | physical | economic |
        cultural | technical | mechanical | thermal | structural | temporary | permanent | sudden | lasting |
        delicate | sturdy | elegant | clumsy | generous | cautious | curious | patient | stubborn | honest |
        thoughtful | ambitious | humble | vivid | faint | obvious | remote | crowded | empty | fertile | barren |
        massive | tiny | hollow | solid | liquid | transparent | opaque | flexible | rigid | ordinary | peculiar"""
    ),
    "adverb": words(
        """usually | often | rarely | gradually | quickly | slowly | steadily | carefully | roughly | nearly |
        partly | largely | mostly | clearly | simply | directly | eventually | initially | typically | naturally |
        briefly | quietly | consistently | sharply | gently | reliably | surprisingly | noticeably | occasionally"""
    ),
    "time_unit": words("seconds | minutes | hours | days | weeks | months | seasons | years"),
    "season": words("spring | summer | autumn | winter | the rainy season | the dry season"),
    # --- science ---
    "sci_thing": words(
        """water molecules | electrons | ions | cells | enzymes | air masses | sediment grains | photons |
        sound waves | proteins | root hairs | salt crystals | tectonic plates | gas particles | magma |
        ocean currents | nerve impulses | pollen grains | chloroplasts | red blood cells | bacteria |
        fungal spores | ice crystals | dust particles | neutrons | atoms | chemical bonds | glaciers |
        water droplets | leaf cells | muscle fibres | carbon atoms | hydrogen ions | storm clouds |
        sand dunes | coral polyps | plant roots | insect colonies | migrating birds | metal filings |
        soap bubbles | light rays | radio waves | earthworms | plankton | seedlings | volcanic ash"""
    ),
    "sci_action": words(
        """move faster | collide more often | absorb energy | release heat | cluster together | spread out |
        vibrate more strongly | lose energy | line up | break apart | bond with their neighbours | drift apart |
        settle to the bottom | rise toward the surface | divide | change direction | slow down | speed up |
        dissolve | crystallize | expand | contract | bend | scatter | reflect | swell | shrink | gather |
        compete for space | carry charge | store energy | pass signals along"""
    ),
    "sci_driver": words(
        """a rise in temperature | a drop in pressure | an external electric field | direct sunlight |
        gravity | friction with the surroundings | a difference in concentration | the pull of the moon |
        a catalyst | mechanical stress | heavy rainfall | a drop in humidity | a change in acidity |
        a magnetic field | a steady supply of nutrients | a sudden impact | prolonged cooling | strong winds |
        rising salinity | a shortage of oxygen | constant vibration | uneven heating | added weight"""
    ),
    "observation": words(
        """the surface feels warmer to the touch | bubbles form along the edges | the colour of the solution fades |
        the balloon slowly expands | the leaves turn toward the window | a thin crust forms on top |
        the needle of the compass swings | frost appears on the glass | the liquid turns cloudy |
        the shadow on the wall grows longer | ripples spread across the pond | the metal rod begins to glow |
        the scale shows a smaller mass | the sound becomes noticeably higher | the rope sags in the middle |
        the ice cube shrinks within minutes | small cracks open in the soil | the paper strip changes colour"""
    ),
    "instrument": words(
        """thermometer | barometer | spectrometer | microscope | voltmeter | pressure gauge | stopwatch |
        digital balance | light meter | pH probe | seismograph | telescope | hygrometer | anemometer |
        oscilloscope | calorimeter | Geiger counter | rain gauge | ruler and camera | data logger"""
    ),
    "quantity": words(
        """temperature | pressure | volume | mass | density | speed | energy | concentration | wavelength |
        frequency | acidity | humidity | voltage | current | brightness | salinity | altitude | viscosity |
        surface area | reaction rate | growth rate | population size | water content"""
    ),
    "field_of_study": words(
        """chemistry | ecology | geology | meteorology | oceanography | physiology | astronomy | botany |
        materials science | genetics | acoustics | optics | hydrology | microbiology | seismology |
        agriculture | medicine | engineering | climate science | marine biology"""
    ),
    "analogy": words(
        """a crowded hallway where people slowly drift into empty rooms | a ball rolling downhill and settling
        in the lowest valley | a relay team passing a baton from runner to runner | a sponge soaking up
        spilled water | a thermostat switching a heater on and off | a row of dominoes falling one after
        another | a crowd doing the wave around a stadium | a busy kitchen where every cook has one job |
        a toll road where each car pays before it moves on | a seesaw finding its balance point |
        a queue at a bakery that grows and shrinks through the morning | a garden hose with a thumb over the nozzle |
        a choir slowly settling on the same note | a bucket with a small hole near the bottom |
        a trampoline that stretches and then throws you back up | a line of people passing sandbags"""
    ),
    "misconception": words(
        """heavier objects always fall faster | cold is something that flows into a warm room |
        plants take their food from the soil | the seasons come from the distance to the sun |
        evolution aims at a fixed goal | electricity is used up inside a circuit | glass is a slow liquid |
        bigger batteries always give a stronger current | the brighter star is always the closer one |
        sound travels fastest through air | rust is a kind of dirt on the metal"""
    ),
    "evidence": words(
        """careful measurements over many years | controlled laboratory experiments | satellite images |
        long records kept by weather stations | samples taken from deep ice cores | field surveys of
        several habitats | repeated trials with different starting conditions | computer simulations
        checked against real data | observations made with simple classroom equipment | fossil records"""
    ),
    # --- history ---
    "hist_group": words(
        """merchants | peasants | monks | artisans | sailors | bankers | soldiers | scholars | weavers |
        landowners | guild members | pilgrims | printers | miners | fishermen | shipbuilders | clerks |
        farmers | city councils | religious orders | noble families | wandering scholars | caravan traders |
        factory workers | railway engineers | local officials | tax collectors | village elders"""
    ),
    "hist_factor": words(
        """long-distance trade | heavy taxation | repeated droughts | outbreaks of disease | new farming tools |
        rising literacy | cheaper paper | safer sea routes | the growth of towns | disputes over land |
        changes in religious practice | the spread of coinage | better roads | rivalry between cities |
        a shortage of labour | foreign invasions | harsh winters | new banking methods | printed pamphlets |
        the decline of old alliances | improvements in navigation | the expansion of markets"""
    ),
    "hist_consequence": words(
        """wages rose in many regions | old hierarchies began to weaken | new towns grew along the routes |
        ideas travelled faster than before | local rulers lost much of their authority |
        farmers moved into the cities | prices climbed sharply for ordinary goods | new schools opened |
        coastal ports became wealthy | written records became far more common | guilds tightened their rules |
        religious debates spread to the countryside | governments began to collect better statistics"""
    ),
    "century": words(
        """the twelfth century | the thirteenth century | the fourteenth century | the fifteenth century |
        the sixteenth century | the seventeenth century | the eighteenth century | the nineteenth century |
        the early twentieth century | the late medieval period | the early modern period"""
    ),
    "region": words(
        """northern Italy | the Low Countries | the Baltic coast | the Iberian Peninsula | central Europe |
        the eastern Mediterranean | the Rhine valley | southern England | the Ottoman provinces |
        coastal West Africa | the Indian Ocean ports | the Andes | northern China | the Swahili coast |
        the Japanese islands | the Caribbean | the Danube basin | Scandinavia | Anatolia | Bohemia"""
    ),
    "hist_source": words(
        """tax registers | merchant letters | parish records | court documents | travel diaries | shipping logs |
        surviving account books | guild charters | chronicles written by monks | census returns | old maps |
        newspaper archives | inventories of household goods | letters between rulers"""
    ),
    # --- advice ---
    "goal": words(
        """stay focused while studying | sleep better during busy weeks | save money on groceries |
        prepare for a job interview | learn a new language faster | keep my apartment tidy |
        get back into running | manage stress at work | read more books | cook healthier meals on a budget |
        improve my public speaking | build a morning routine | spend less time on my phone |
        organise my notes for exams | make friends in a new city | ask for a raise | write more clearly |
        keep houseplants alive | plan a long trip | become more patient with my kids"""
    ),
    "situation": words(
        """a second-year student | a new manager | a night-shift nurse | a freelance designer | a parent of twins |
        recently retired | working from home | training for my first marathon | moving to another country |
        starting a small bakery | returning to work after a long break | a beginner gardener |
        juggling two part-time jobs | living with three roommates | preparing for a certification exam"""
    ),
    "tip_verb": words(
        """set aside | write down | break up | schedule | limit | track | prepare | review | share | practise |
        replace | simplify | reward yourself for | plan | protect | measure | label | batch | postpone | delegate"""
    ),
    "tip_object": words(
        """a fixed block of time each morning | your three most important tasks | large projects into small steps |
        short breaks every hour | the number of open browser tabs | how you actually spend your evenings |
        tomorrow's clothes and bag the night before | your notes at the end of each week |
        your goals with a friend who will check in | the hardest part first | one habit at a time |
        your shopping list before you leave home | quiet time without notifications | a weekly budget |
        your progress in a small notebook | folders for each subject | meals for the next three days |
        decisions that can wait until tomorrow | routine chores to someone you trust"""
    ),
    "reason": words(
        """small wins build momentum | willpower runs low by the evening | clear limits remove daily debates |
        visible progress keeps motivation alive | decisions get harder when you are tired |
        habits stick when they are tied to an existing routine | vague plans tend to slip |
        other people make commitments feel real | rest improves the quality of the work you do |
        clutter quietly drains attention | a written plan frees your memory for the task itself"""
    ),
    "feeling": words(
        """overwhelmed | restless | discouraged | anxious | distracted | tired | frustrated | unsure | stuck |
        hopeful | impatient | curious | nervous | motivated | relieved | proud | lonely | calm"""
    ),
    # --- cooking and travel (the source of accented words) ---
    "dish": words(
        """crème brûlée | ratatouille | paella | jalapeño cornbread | chicken fricassée | potato purée |
        mushroom risotto | lentil soup | cheese soufflé | piña colada sorbet | crêpes with lemon |
        gratin dauphinois | shakshuka | vegetable tagine | pâté on toast | café au lait | beef bourguignon |
        salade niçoise | tortilla española | gazpacho | mole poblano | pad thai | fish chowder | apple strudel"""
    ),
    "ingredient": words(
        """garlic | shallots | fresh thyme | smoked paprika | olive oil | unsalted butter | lemon zest |
        brown sugar | chickpeas | basil leaves | sea salt | black pepper | red onion | cumin seeds |
        crème fraîche | jalapeños | saffron | vanilla pods | grated nutmeg | coriander | sweet potatoes |
        spinach | Gruyère cheese | sourdough bread | coconut milk | toasted almonds | ginger | plum tomatoes"""
    ),
    "technique": words(
        """sauté | roast | simmer | braise | whisk | fold | purée | caramelize | blanch | poach | marinate |
        grill | steam | knead | reduce | flambé | toast | season"""
    ),
    "place": words(
        """Málaga | Zürich | Montréal | Québec City | Bogotá | Córdoba | São Paulo | Curaçao | Kraków |
        Reykjavík | Genève | Nîmes | Besançon | Cádiz | Medellín | Düsseldorf | Lübeck | Ålesund | Alcalá |
        Lisbon | Porto | Seville | Lyon | Vienna | Prague | Oaxaca | Cusco | Valparaíso | Asunción | Tromsø"""
    ),
    "travel_thing": words(
        """a small café near the station | the old façade of the town hall | a covered market | the harbour
        at sunrise | a quiet museum of local crafts | the cathedral square | a ferry across the bay |
        a hillside vineyard | the botanical garden | a night market | the riverside promenade |
        a family-run bakery | the fortress walls | a tram ride through the old quarter | a lookout above the city"""
    ),
    "accented_word": words(
        """café | naïve | résumé | façade | fiancée | déjà vu | cliché | protégé | entrée | touché | rosé |
        soufflé | jalapeño | piñata | crème | purée | sauté | décor | exposé | rôle | über | coöperate"""
    ),
    # --- stories ---
    "character": words(
        """a retired lighthouse keeper | a young cartographer | a tired delivery cyclist | an apprentice clockmaker |
        a shy violinist | a stubborn goat farmer | a night-shift baker | an elderly beekeeper | a junior detective |
        a travelling puppeteer | a ship's cook | a museum guard | a hot-air balloon pilot | a village postmistress |
        a teenage inventor | a widowed fisherman | a forest ranger | a translator of old letters |
        a librarian with a secret | a street musician | a mapmaker's daughter | a lonely astronomer"""
    ),
    "story_object": words(
        """a brass key | a torn map | an unsigned letter | a music box | a jar of buttons | a faded photograph |
        a compass that pointed south | a locked suitcase | a red umbrella | a wooden whistle | a cracked lantern |
        a notebook full of sketches | a seed packet with no label | a pocket watch | a message in a bottle"""
    ),
    "story_setting": words(
        """a fishing village wrapped in fog | a crowded railway station | a mountain pass in early winter |
        a flooded market town | a greenhouse on the edge of the city | an island reached only at low tide |
        a library that never closed | a desert town with one well | a ferry stuck in the ice |
        a rooftop garden above a busy street | an abandoned observatory | a valley full of orchards"""
    ),
    "story_weather": words(
        """rain drummed on the tin roof | the wind smelled of salt and tar | snow muffled every footstep |
        the afternoon heat pressed down on the square | thunder rolled somewhere beyond the hills |
        a pale moon hung over the water | the first frost silvered the fences | mist crept up from the river"""
    ),
    "emotion": words(
        """a small, stubborn hope | a prickle of fear | an old familiar grief | sudden courage | quiet relief |
        embarrassment | a strange calm | homesickness | gratitude | a flicker of suspicion | pure delight"""
    ),
    # --- finance ---
    "fin_topic": words(
        """an emergency fund | index funds | a high-interest credit card balance | a fixed-rate mortgage |
        a workplace pension | a monthly budget | a student loan | an annual bonus | a car loan | a savings account |
        a small business line of credit | a certificate of deposit | inflation | a rental property"""
    ),
    "fin_action": words(
        """compare the total interest paid over the full term | list every fixed and variable expense |
        automate a transfer on payday | pay the balance with the highest rate first |
        keep three to six months of expenses in cash | check the fees charged by each fund |
        review your insurance cover once a year | avoid borrowing against retirement savings |
        read the early repayment terms carefully | spread purchases across several months |
        ask whether the rate is fixed or variable | keep receipts for deductible costs"""
    ),
    "noun": words(
        """habit | decision | method | pattern | question | process | result | detail | problem | approach |
        principle | tradition | landscape | boundary | experiment | routine | resource | signal | structure |
        network | surface | journey | workshop | neighbourhood | harvest | festival | schedule | strategy |
        instrument | summary | argument | example | exception | measurement | estimate | shortcut | mistake |
        challenge | opportunity | audience | community | material | texture | rhythm | balance | contrast"""
    ),
}

SCIENCE_CONCEPTS: list[tuple[str, str, str]] = [
    # (concept, domain, one-line definition)
    ("photosynthesis", "biology", "the process green plants use to turn light, water and carbon dioxide into sugar and oxygen"),
    ("osmosis", "biology", "the movement of water across a membrane from a dilute solution toward a concentrated one"),
    ("diffusion", "chemistry", "the spreading of particles from regions where they are crowded toward regions where they are scarce"),
    ("convection", "physics", "the transfer of heat by the bulk movement of a warmed fluid"),
    ("erosion", "geology", "the wearing away of rock and soil by water, wind and ice"),
    ("refraction", "physics", "the bending of a wave as it passes from one medium into another"),
    ("fermentation", "biochemistry", "a way for cells to release energy from sugar without using oxygen"),
    ("cellular respiration", "biology", "the chain of reactions that releases energy from food inside cells"),
    ("evaporation", "physics", "the escape of molecules from the surface of a liquid into the air"),
    ("condensation", "meteorology", "the change of water vapour back into liquid droplets as it cools"),
    ("magnetism", "physics", "the force that arises from moving charges and aligned atomic spins"),
    ("friction", "physics", "the force that resists two surfaces sliding past each other"),
    ("inertia", "physics", "the tendency of an object to keep doing whatever it is already doing"),
    ("buoyancy", "physics", "the upward push a fluid exerts on anything placed in it"),
    ("oxidation", "chemistry", "a reaction in which a substance loses electrons, often by combining with oxygen"),
    ("combustion", "chemistry", "a fast reaction between a fuel and oxygen that releases heat and light"),
    ("thermal expansion", "physics", "the way most materials take up more space as they warm"),
    ("natural selection", "biology", "the process by which traits that help survival become more common over generations"),
    ("plate tectonics", "geology", "the slow movement of the large rigid plates that make up the outer shell of the Earth"),
    ("the water cycle", "earth science", "the continuous movement of water between oceans, air and land"),
    ("mitosis", "biology", "the division of one cell nucleus into two identical nuclei"),
    ("pollination", "botany", "the transfer of pollen that allows flowering plants to make seeds"),
    ("electrical resistance", "physics", "the opposition a material offers to the flow of electric current"),
    ("the greenhouse effect", "climate science", "the warming of a planet when gases in its air trap outgoing heat"),
    ("ocean tides", "oceanography", "the regular rise and fall of sea level caused mainly by the moon"),
    ("sound resonance", "acoustics", "the strong vibration of an object when it is pushed at its natural frequency"),
    ("catalysis", "chemistry", "the speeding up of a reaction by a substance that is not used up"),
    ("the nitrogen cycle", "ecology", "the movement of nitrogen between air, soil, living things and water"),
    ("static electricity", "physics", "the build-up of electric charge on the surface of an object"),
    ("soil formation", "geology", "the slow breakdown of rock mixed with organic matter into fertile ground"),
    ("enzyme activity", "biochemistry", "the work proteins do to speed up reactions inside living cells"),
    ("air pressure", "meteorology", "the weight of the column of air pressing down on a surface"),
    ("the Doppler effect", "physics", "the change in pitch or colour of a wave when its source moves"),
    ("crystallization", "chemistry", "the orderly arrangement of particles into a solid with a repeating pattern"),
    ("heat conduction", "physics", "the transfer of heat through direct contact between particles"),
    ("seed germination", "botany", "the waking of a seed as it absorbs water and begins to grow"),
    ("ecological succession", "ecology", "the gradual replacement of one community of species by another"),
    ("lunar phases", "astronomy", "the changing shape of the sunlit part of the moon that we can see"),
    ("acid rain", "environmental science", "rain made acidic by sulphur and nitrogen gases in the air"),
    ("muscle contraction", "physiology", "the shortening of muscle fibres when protein filaments slide past each other"),
]

HISTORY_EVENTS: list[str] = [
    "the spread of the printing press in Europe", "trade along the Silk Road", "the early Industrial Revolution in Britain",
    "the Black Death", "the rise of the Hanseatic League", "the Meiji Restoration", "the Columbian Exchange",
    "the growth of Renaissance Florence", "the French Revolution", "the building of the transcontinental railroad",
    "the decline of the Western Roman Empire", "the Protestant Reformation", "the Dutch Golden Age",
    "the Mali Empire under Mansa Musa", "the Great Famine in Ireland", "the Ottoman conquest of Constantinople",
    "the voyages of Zheng He", "the abolition of the Atlantic slave trade", "the Scientific Revolution",
    "the Congress of Vienna", "the unification of Italy", "the partition of Africa", "the Irish independence movement",
    "the invention of the telegraph", "the Great Depression", "the Marshall Plan", "the Inca road network",
    "the Hundred Years' War", "the founding of the first universities", "the Venetian glass industry",
]

CODE_NOUNS: list[tuple[str, str]] = [
    ("order", "orders"), ("invoice", "invoices"), ("reading", "readings"), ("ticket", "tickets"),
    ("sensor", "sensors"), ("student", "students"), ("book", "books"), ("track", "tracks"),
    ("shipment", "shipments"), ("visitor", "visitors"), ("sample", "samples"), ("record", "records"),
    ("message", "messages"), ("employee", "employees"), ("city", "cities"), ("product", "products"),
    ("recipe", "recipes"), ("planet", "planets"), ("flight", "flights"), ("patient", "patients"),
    ("account", "accounts"), ("transaction", "transactions"), ("device", "devices"), ("task", "tasks"),
    ("event", "events"), ("review", "reviews"), ("comment", "comments"), ("photo", "photos"),
    ("course", "courses"), ("vehicle", "vehicles"), ("donation", "donations"), ("parcel", "parcels"),
    ("sale", "sales"), ("article", "articles"), ("meeting", "meetings"), ("booking", "bookings"),
    ("subscriber", "subscribers"), ("song", "songs"), ("tree", "trees"), ("station", "stations"),
]
CODE_ATTRS = words(
    """price | weight | rating | duration | temperature | distance | score | altitude | length | quantity |
    balance | age | priority | size | speed | volume | cost | height | capacity | humidity | latency | views |
    votes | budget | stock | delay | width | depth | salary | attendance"""
)
CODE_KEYS = words(
    """category | region | status | owner | country | department | genre | colour | brand | city | author |
    weekday | team | language | supplier | level | kind | room | grade | channel"""
)
CODE_LANG_TASK_CONSTRAINTS = words(
    """Please avoid external libraries. | It should handle an empty input gracefully. |
    Add type hints and a docstring. | Keep it readable rather than clever. | Explain the time complexity. |
    Include a short usage example. | Make it work for very large inputs. | It must not modify the input list. |
    Raise a clear error for invalid input. | Use only the standard library."""
)

MATH_ITEMS: list[tuple[str, str]] = [
    ("notebook", "notebooks"), ("pencil", "pencils"), ("apple", "apples"), ("ticket", "tickets"),
    ("loaf of bread", "loaves of bread"), ("bag of rice", "bags of rice"), ("mug", "mugs"), ("candle", "candles"),
    ("plant pot", "plant pots"), ("comic book", "comic books"), ("jar of honey", "jars of honey"),
    ("bunch of tulips", "bunches of tulips"), ("pair of socks", "pairs of socks"), ("sketchbook", "sketchbooks"),
    ("bottle of juice", "bottles of juice"), ("box of tea", "boxes of tea"), ("puzzle", "puzzles"),
    ("croissant", "croissants"), ("watermelon", "watermelons"), ("paintbrush", "paintbrushes"),
]

SYSTEM_PROMPTS: list[str] = [
    "You are a helpful assistant.",
    "You are a patient tutor. Explain each step so that a beginner can follow it.",
    "You are an AI assistant. The user will give you a task; complete it as faithfully as you can and justify your steps.",
    "You are a friendly expert who answers in plain language and avoids jargon where possible.",
    "You are a coding assistant. Prefer clear, tested code and point out edge cases.",
    "You are a careful historian who separates well-established facts from interpretation.",
    "You are a creative writing partner with a warm, vivid style.",
    "You are a cautious financial educator. You do not give personal investment advice, only general information.",
    "You are a science communicator for curious teenagers.",
    "Answer concisely but completely. Use lists when they make the answer easier to scan.",
    "You are an assistant that thinks step by step before giving a final answer.",
    "You are a kind and practical coach who gives concrete suggestions.",
]


# ----------------------------------------------------------------------------------------------------
# Text engine: templates with ``{slot}`` (a fresh draw from LEX, or a value fixed in the context) and
# ``[a|b|c]`` alternations (nestable; ``[a|]`` is optional text).
# ----------------------------------------------------------------------------------------------------

_SLOT_RE = re.compile(r"\{(=?)([A-Za-z_0-9]+)\}")
_AN_RE = re.compile(r"\b([Aa]) (?=([A-Za-zÀ-ÿ]+))")
_CONSONANT_SOUND_VOWEL_START = ("uni", "use", "usu", "eu", "one", "uti", "ubiq", "euro")
_VOWEL_SOUND_CONSONANT_START = ("hour", "honest", "heir")


def _fix_articles(text: str) -> str:
    def repl(m: re.Match) -> str:
        art, nxt = m.group(1), m.group(2).lower()
        vowel = nxt[0] in "aeiouàáâäèéêëìíîïòóôöùúûü" and not nxt.startswith(_CONSONANT_SOUND_VOWEL_START)
        vowel = vowel or nxt.startswith(_VOWEL_SOUND_CONSONANT_START)
        return (art + "n " if vowel else art + " ")

    return _AN_RE.sub(repl, text)


def cap(text: str) -> str:
    """Upper-case the first letter (skipping leading markup such as ``**``)."""
    for i, ch in enumerate(text):
        if ch.isalpha():
            return text[:i] + ch.upper() + text[i + 1 :]
        if ch not in "*_\"'([":
            return text
    return text


@lru_cache(maxsize=None)
def _parse_template(template: str) -> tuple:
    """Nodes of a template: ("lit", text), ("slot", fixed, name, lexicon name), ("alt", (nodes, ...))."""

    def parse(text: str) -> tuple:
        nodes: list[tuple] = []
        i = 0
        while i < len(text):
            if text[i] == "[":
                depth, j, cuts = 0, i, []
                while j < len(text):
                    if text[j] == "[":
                        depth += 1
                    elif text[j] == "]":
                        depth -= 1
                        if depth == 0:
                            break
                    elif text[j] == "|" and depth == 1:
                        cuts.append(j)
                    j += 1
                if cuts and j < len(text):
                    bounds = [i, *cuts, j]
                    nodes.append(("alt", tuple(parse(text[bounds[k] + 1 : bounds[k + 1]]) for k in range(len(bounds) - 1))))
                    i = j + 1
                    continue
            m = _SLOT_RE.match(text, i)
            if m:
                nodes.append(("slot", bool(m.group(1)), m.group(2), m.group(2).rstrip("0123456789")))
                i = m.end()
                continue
            k = i + 1
            while k < len(text) and text[k] not in "[{":
                k += 1
            nodes.append(("lit", text[i:k]))
            i = k
        return tuple(nodes)

    return parse(template)


class Writer:
    """Fills templates from LEX with one seeded ``random.Random``.

    Within one row (``new_row``) no template is used twice (each pool is a shuffled deck) and no slot value
    of three or more words repeats, so that rows do not trip the Gopher repetition filters by accident.
    """

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.new_row()

    def new_row(self) -> None:
        self._decks: dict[tuple, list[int]] = {}
        self._used: set[str] = set()

    def pick(self, seq):
        return seq[self.rng.randrange(len(seq))]

    def draw(self, pool: list[str]) -> str | None:
        """The next template of ``pool`` in this row's deck; None once every template was used."""
        key = tuple(pool)
        deck = self._decks.get(key)
        if deck is None:
            deck = list(range(len(pool)))
            self.rng.shuffle(deck)
            self._decks[key] = deck
        return pool[deck.pop()] if deck else None

    def slot_value(self, name: str) -> str:
        values = LEX[name]
        for _ in range(12):
            value = self.pick(values)
            if value.count(" ") < 2 or value not in self._used:
                break
        self._used.add(value)
        return value

    def fill(self, template: str, ctx: dict | None = None) -> str:
        ctx = ctx or {}
        out: list[str] = []
        self._render(_parse_template(template), ctx, out)
        text = "".join(out)
        if "  " in text:
            text = re.sub(r" {2,}", " ", text)
        text = text.replace(" ,", ",").replace(" .", ".")
        return cap(_fix_articles(text.strip()))

    def _render(self, nodes: tuple, ctx: dict, out: list[str]) -> None:
        for node in nodes:
            kind = node[0]
            if kind == "lit":
                out.append(node[1])
            elif kind == "slot":
                _, fixed, name, base = node
                out.append(str(ctx[name]) if fixed or name in ctx else self.slot_value(base))
            else:
                self._render(self.pick(node[1]), ctx, out)

    def sentences(self, pool: list[str], n: int, ctx: dict | None = None) -> list[str]:
        """Up to ``n`` sentences from this row's deck of ``pool`` (fewer once the deck is used up)."""
        out: list[str] = []
        for _ in range(n):
            template = self.draw(pool)
            if template is None:
                break
            out.append(self.fill(template, ctx))
        return out

    def paragraph(self, pool: list[str], ctx: dict | None = None, lo: int = 3, hi: int = 6) -> str:
        return " ".join(self.sentences(pool, self.rng.randint(lo, hi), ctx))

    def paragraphs(self, pool: list[str], n: int, ctx: dict | None = None, lo: int = 3, hi: int = 6) -> list[str]:
        out = [self.paragraph(pool, ctx, lo, hi) for _ in range(n)]
        return [p for p in out if p]

    def n_paragraphs(self, mean: float = 2.2, sigma: float = 0.55, lo: int = 1, hi: int = 24) -> int:
        """Long-tailed paragraph counts (lognormal)."""
        return max(lo, min(hi, int(round(self.rng.lognormvariate(0, sigma) * mean))))


LEX.update(
    {
        "learner": words(
            """middle school student | first-year university student | curious adult | high school student |
            ten-year-old | retired engineer | nursing student | beginner with no science background"""
        ),
        "sci_place": words(
            """the equator | the poles | a river mouth | a volcanic vent | the ocean floor | a city centre |
            a mountain summit | a cave entrance | a salt marsh | a desert basin | a rainforest canopy"""
        ),
        "artifact": words(
            """solar panels | refrigerators | bridges | water filters | hearing aids | weather balloons |
            greenhouses | cooking pots | ship hulls | insulated walls | medical scanners | irrigation systems |
            bicycle brakes | wind turbines | camera lenses | storage batteries | concrete foundations"""
        ),
        "home_action": words(
            """leave a glass of water in the sun | warm a pan on the stove | shake a sealed jar |
            hold a magnet near a compass | cool a bottle in the freezer | rub a balloon on a wool jumper |
            drop food colouring into still water | leave a bicycle out in the rain | open a fizzy drink"""
        ),
        "nature_place": words(
            """a pond | the forest floor | a rock pool | a sandy desert | a snowfield | a reed marsh | a limestone cave |
            a hedgerow | an alpine meadow | a mangrove swamp"""
        ),
        "closing": words(
            """I hope this helps! Let me know if you would like more detail on any step. |
            Feel free to ask if any part of this is unclear. | If you tell me more about your situation, I can tailor this further. |
            Happy to expand on any of these points. | Let me know how it goes, and good luck! |
            Would you like a worked example to go with this? | Does that answer your question? |
            I can also suggest further reading if that would be useful."""
        ),
    }
)

# ---- science ------------------------------------------------------------------------------------

SCI_PROMPTS = [
    "Explain how {=concept} works and why it matters in {=domain}.",
    "What is {=concept}? Please give an everyday example.",
    "Can you describe {=concept} in simple terms for a {learner}?",
    "Why does {=concept} happen, and how do scientists study it?",
    "I keep mixing up {=concept} and {=concept2}. What is the difference between them?",
    "Describe the role of {=concept} in {field_of_study}, with one experiment a student could try at home.",
    "My textbook says that {=concept} is {=definition}. What does that actually mean?",
    "What are the main factors that control {=concept}? Explain each one briefly.",
    "Write a short explanation of {=concept} for a {learner}, including a common misconception.",
    "How would you teach {=concept} to a {learner} using only things found in a kitchen?",
    "Give a detailed explanation of {=concept}. Include how {quantity} affects it and where it shows up in {field_of_study}.",
]
SCI_INTRO = [
    "{=Concept} is {=definition}.",
    "In short, {=concept} is {=definition}.",
    "Put simply, {=concept} refers to {=definition}.",
    "{=Concept} can be summed up as {=definition}.",
    "Great question. {=Concept} is {=definition}.",
]
SCI_BODY = [
    "At the [microscopic|molecular|cellular|everyday] scale, {sci_thing} {sci_action} in response to {sci_driver}, which is why {observation}.",
    "A useful way to picture this is to imagine {analogy}.",
    "Researchers often follow the process with a {instrument}, recording the {quantity} every few {time_unit}.",
    "When {sci_driver} is [added|removed|doubled|reduced], the {quantity} [changes|shifts|responds] [far more than|less than|roughly as much as] most people expect.",
    "In {field_of_study}, the same idea helps explain why {sci_thing} {sci_action} during {season}.",
    "A common misconception is that {misconception}, but {evidence} show otherwise.",
    "Much of what we know comes from {evidence}, which reveal how {sci_thing} {sci_action} over {time_unit} and {time_unit2}.",
    "The {quantity} matters because {sci_thing} {sci_action} [only|mostly|more readily] once it passes a [certain|critical|well-defined] threshold.",
    "You can see a version of this at home: {home_action} and watch closely, because {observation}.",
    "This is also why {sci_thing} near {sci_place} {sci_action} [faster|more slowly|more visibly] than {sci_thing2} elsewhere.",
    "Engineers take advantage of it when they design {artifact} and {artifact2}.",
    "Without it, {sci_thing} would [rarely|hardly ever|not] {sci_action}, and you would [never notice|rarely see|struggle to measure] that {observation}.",
    "The rate depends on the {quantity}, the {quantity2} and, to a lesser extent, the {quantity3} of the surroundings.",
    "Measured carefully, the change in {quantity} can be as small as a fraction of a percent, yet it [adds up|accumulates|becomes important] over many {time_unit}.",
    "Students often test this by [changing|varying] the {quantity} while keeping everything else fixed, then noting whether {observation}.",
    "Because {sci_thing} {sci_action} under {sci_driver}, the overall {quantity} of the system [rises|falls|drifts] until a new balance is reached.",
    "The effect was first described [in detail|systematically|quantitatively] by scientists working in {field_of_study}, who relied on {evidence}.",
    "In a [warm|humid|dry|crowded|sunny|sheltered|salty|acidic] environment, {sci_thing} tend to {sci_action}, while in a [cooler|wetter|drier|saltier|darker] one they {sci_action2}.",
    "Keep in mind that {=concept} is rarely the only process at work; {sci_thing} also {sci_action} because of {sci_driver}.",
    "If you plotted the {quantity} against time, the curve would [climb steeply at first and then level off|rise in small steps|fall and then slowly recover|wobble around a steady average].",
    "Scientists often express this as a [simple|rough|practical] rule: the larger the {quantity}, the [faster|more slowly|more strongly] {sci_thing} {sci_action}.",
    "One [classic|simple|memorable] demonstration uses a {instrument} and a [glass jar|metal tray|sealed bag|strip of paper|bowl of water|length of string].",
    "In nature, you can observe it in {nature_place} during {season}, when {observation}.",
    "{evidence} suggest that {sci_thing} {sci_action} [within|over|across] a few {time_unit} once {sci_driver} takes hold.",
    "Note that a [small|sudden|gradual|large|seasonal] change in {quantity} can [hide|exaggerate|mask] the effect, so careful experiments control it.",
    "For a {learner}, the key takeaway is that {sci_thing} {sci_action} when conditions change.",
    "Textbooks in {field_of_study} usually introduce it next to {=concept2}, since both involve {sci_thing}.",
    "Temperature, {quantity} and time all interact here, which is why [field measurements|classroom results|laboratory readings] can look noisy.",
    "Early experimenters [were puzzled|argued for decades|disagreed] about why {sci_thing} {sci_action}, until {evidence} settled the question.",
    "Try predicting what happens before you [look|measure|check]: does the {quantity} go up, go down, or stay [roughly|almost|nearly] constant?",
    "The [same|underlying] principle turns up in {artifact}, where designers [limit|control|exploit] the {quantity} on purpose.",
    "On a [planetary|regional|global|local] scale, {sci_thing} {sci_action}, and over {time_unit} that shapes the landscape around {sci_place}.",
    "It helps to separate cause from effect: {sci_driver} is the cause, while the change in {quantity} is the effect you [measure|record|notice].",
    "Doubling the {quantity} does not always double the result, because {sci_thing} [eventually|soon|quickly] run out of room to {sci_action}.",
    "A [careful|patient|curious] observer with a notebook and a {instrument} can [reproduce|confirm|repeat] much of this in an afternoon.",
    "Safety matters even in simple experiments: protect your eyes, and never [heat|seal|mix] anything without an adult or teacher nearby.",
]
SCI_FOLLOWUPS = [
    "Can you give another example from {field_of_study}?",
    "How would this change if {sci_driver} were removed?",
    "What simple experiment could test that at home?",
    "How is this related to {=concept2}?",
    "Could you explain the part about {quantity} in more detail?",
    "Why does {quantity} matter so much here?",
]


def science_exchanges(w: Writer, n_ex: int, size: float) -> list[tuple[str, str]]:
    concept, domain, definition = w.pick(SCIENCE_CONCEPTS)
    concept2 = w.pick([c for c in SCIENCE_CONCEPTS if c[0] != concept])[0]
    ctx = {"concept": concept, "Concept": cap(concept), "domain": domain, "definition": definition, "concept2": concept2}
    out = []
    for i in range(n_ex):
        prompt = w.fill(w.draw(SCI_PROMPTS) if i == 0 else w.draw(SCI_FOLLOWUPS), ctx)
        parts: list[str] = []
        if i == 0:
            parts.append(w.fill(w.pick(SCI_INTRO), ctx) + " " + w.paragraph(SCI_BODY, ctx, 1, 3))
        n_par = w.n_paragraphs(1.5 * size if i == 0 else 1.0 * size)
        style = w.rng.random()
        if style < 0.35 and n_par >= 2:
            head = w.pick(["Here is how it works, step by step:", "The main stages are:", "Step by step:", "Broken into stages:"])
            steps = w.sentences(SCI_BODY, w.rng.randint(3, 6), ctx)
            if steps:
                parts.append(head + "\n" + "\n".join(f"{k + 1}. {s}" for k, s in enumerate(steps)))
            n_par -= 1
        elif style < 0.55 and n_par >= 2:
            head = w.pick(["**Key points**", "Key factors:", "What to remember:", "**Factors that matter**"])
            items = w.sentences(SCI_BODY, w.rng.randint(3, 5), ctx)
            if items:
                parts.append(head + "\n" + "\n".join(f"- {s}" for s in items))
            n_par -= 1
        parts += w.paragraphs(SCI_BODY, n_par, ctx)
        if w.rng.random() < 0.3:
            parts.append(w.fill(w.draw(LEX["closing"]) or "Happy to help further."))
        out.append((prompt, "\n\n".join(p for p in parts if p.strip())))
    return out


# ---- history ------------------------------------------------------------------------------------

HIST_PROMPTS = [
    "Summarize the causes and consequences of {=event}.",
    "What role did {hist_group} play in {=event}?",
    "How do historians know what happened during {=event}?",
    "Explain {=event} to someone who has never studied history.",
    "Was {=event} mainly driven by {hist_factor}? Give a balanced answer.",
    "Write a short essay on {=event} and its long-term effects on {region}.",
    "What were the most important changes that came with {=event}, and who benefited from them?",
    "Compare {=event} with what was happening in {region} at roughly the same time.",
]
HIST_BODY = [
    "Historians usually trace the roots of {=event} to {hist_factor} and {hist_factor2}.",
    "In {region}, {hist_group} [felt the change first|were among the first to adapt|resisted the new order|profited most quickly], because {hist_factor} had [already reshaped|begun to transform|started to threaten] their daily lives.",
    "By {century}, {hist_consequence}, and {hist_group} [found new opportunities|lost much of their influence|had to renegotiate old privileges].",
    "Much of our evidence comes from {hist_source}, which record [prices|wages|disputes|journeys|debts|harvests|marriages] in [remarkable|surprising|patchy|uneven] detail.",
    "It would be a mistake to see {=event} as the work of a few famous leaders; {hist_group} and {hist_group2} shaped it just as much.",
    "One [immediate|lasting|unexpected|less obvious] consequence was that {hist_consequence}.",
    "Contemporary observers disagreed sharply: some praised the changes, while {hist_group} complained about {hist_factor}.",
    "Recent research based on {hist_source} suggests that the role of {hist_factor} has been [overstated|underestimated|misunderstood] for a long time.",
    "The effects reached far beyond {region}; within a few generations {hist_consequence} in {region2} as well.",
    "Historians still debate whether {hist_factor} caused the change or merely sped up a process that was already under way.",
    "Ordinary life changed slowly: {hist_group} still [worked the same fields|sailed the same routes|paid the same dues|kept the same festivals], even as {hist_consequence}.",
    "A useful comparison is {region}, where {hist_factor} produced [a very different|a similar|a weaker|a far stronger] result.",
    "Scholars [often|sometimes|increasingly] divide the period into [two|three|four] phases, each marked by a shift in {hist_factor}.",
    "Women in families of {hist_group} [ran workshops|managed accounts|organised relief|kept records|traded at markets], a role that older accounts tend to overlook.",
    "Taken together, these developments show how {hist_factor} could [reshape|unsettle|strengthen] societies that had seemed stable for centuries.",
    "The surviving {hist_source} from {region} are [unusually rich|frustratingly thin|scattered across many archives], which shapes what historians can say with confidence.",
    "For {hist_group}, the most [pressing|visible|painful] change was that {hist_consequence}.",
    "Some of the changes were [reversed|softened|accelerated] during {century}, when {hist_factor} [returned|faded|intensified].",
    "Local records from {region} show {hist_group} [petitioning rulers|forming new associations|moving to the towns|investing in ships|buying land] as {hist_factor} changed the balance of power.",
    "The story looks different when told from the point of view of {hist_group}, whose [letters|accounts|complaints|songs] survive in {hist_source}.",
    "Geography mattered as well: rivers, mountain passes and harbours in {region} decided where {hist_group} could [settle|trade|travel|recruit workers].",
    "Prices offer a [revealing|useful|blunt] measure, and in {region} they [doubled|fell|swung wildly] within a single generation.",
    "Religious institutions in {region} [kept the best records|lent money|ran hospitals|sheltered refugees], so their archives are central to the story.",
    "Older textbooks told this as a story of progress, but historians now stress how uneven it was for {hist_group}.",
    "Rulers in {region} responded [cautiously|with force|by granting new charters|by raising taxes], and {hist_group} had to adjust quickly.",
    "Technology was only part of the story; {hist_factor} and the habits of {hist_group} mattered at least as much.",
]
HIST_CLOSERS = [
    "In short, {=event} grew out of {hist_factor}, and its legacy is still visible in {region}.",
    "Overall, {=event} is best understood as a slow process rather than a single moment.",
    "The lasting lesson is that {hist_factor} and the choices of ordinary {hist_group} mattered as much as any single decision.",
]
HIST_FOLLOWUPS = [
    "What sources would you recommend for learning more about {hist_group} in that period?",
    "How did this affect {hist_group} in {region}?",
    "Which consequence do you think mattered most, and why?",
    "Were there any parallels in {region}?",
]


def history_exchanges(w: Writer, n_ex: int, size: float) -> list[tuple[str, str]]:
    ctx = {"event": w.pick(HISTORY_EVENTS)}
    out = []
    for i in range(n_ex):
        prompt = w.fill(w.draw(HIST_PROMPTS) if i == 0 else w.draw(HIST_FOLLOWUPS), ctx)
        n_par = w.n_paragraphs(1.6 * size if i == 0 else 1.0 * size)
        parts = w.paragraphs(HIST_BODY, n_par, ctx) or [w.fill("It is hard to add much more without repeating myself, but {hist_source} are a good next step.")]
        if w.rng.random() < 0.3 and len(parts) >= 2:
            heads = w.pick([("Causes", "Consequences"), ("Background", "Effects"), ("Short-term", "Long-term")])
            parts[0] = f"**{heads[0]}.** " + parts[0]
            parts[1] = f"**{heads[1]}.** " + parts[1]
        if i == 0 and w.rng.random() < 0.6:
            parts.append(w.fill(w.pick(HIST_CLOSERS), ctx))
        out.append((prompt, "\n\n".join(parts)))
    return out


# ---- advice and finance -------------------------------------------------------------------------

ADV_PROMPTS = [
    "I'm {situation} and I feel {feeling}. How can I {=goal}?",
    "What are some practical ways to {=goal}?",
    "Give me a realistic plan to {=goal} within a month.",
    "My friend is {situation} and wants to {=goal}. What advice would you give?",
    "How do I {=goal} without burning out?",
    "I've tried to {=goal} several times and always give up after a few {time_unit}. Any suggestions?",
]
ADV_TIP = [
    "**{tip_verb} {tip_object}.** This helps because {reason}.",
    "{tip_verb} {tip_object}; {reason}.",
    "Try to {tip_verb} {tip_object}, since {reason}.",
    "**{tip_verb} {tip_object}.** Many people skip this step, yet {reason}.",
    "{tip_verb} {tip_object} and review how it went every few {time_unit}.",
    "If you can, {tip_verb} {tip_object} before the week gets busy.",
    "Consider asking a friend to help you {tip_verb} {tip_object}.",
    "**Small step:** {tip_verb} {tip_object}, even if it feels trivial at first.",
    "Each evening, {tip_verb} {tip_object} so the next day starts with a decision already made.",
    "{tip_verb} {tip_object}, then notice whether you feel {feeling} or calmer afterwards.",
    "Experiment for one week: {tip_verb} {tip_object} and write down what changes.",
    "Make it visible: {tip_verb} {tip_object} on a sheet of paper by the door.",
]
ADV_BODY = [
    "It is normal to feel {feeling} at first; most people do when they try to {=goal}.",
    "Start with one change rather than five, because {reason}.",
    "After two or three {time_unit}, look back at what worked and drop what did not.",
    "If you miss a day, do not treat it as failure; simply {tip_verb} {tip_object} the next morning.",
    "Many people in your position find that {reason}.",
    "A [simple|handy|useful|clever|practical] trick is to {tip_verb} {tip_object} and keep the list where you can see it.",
    "Notice when you feel {feeling}, because that is usually the moment old habits return.",
    "Be honest about your constraints: a [modest|simple|small|realistic] plan you follow beats an ambitious plan you abandon.",
    "Ask someone you trust how they manage to {goal}; you may pick up a [useful|fresh|practical|new] idea or two.",
    "Keep the first week deliberately easy, since {reason}.",
    "Remember that progress is rarely linear, and feeling {feeling} for a few {time_unit} is part of the process.",
    "Sleep, food and movement affect every other goal, so protect them first.",
    "Write your reason for wanting to {=goal} on a card; reread it when motivation dips.",
    "Compare yourself with where you were a month ago, not with other people.",
    "When a plan stops working, change one variable at a time so you can tell what helped.",
]
FIN_PROMPTS = [
    "Should I pay off {=fin_topic} before I start investing?",
    "How does {=fin_topic} work, in plain language?",
    "What should I check before taking on {=fin_topic}?",
    "Explain {=fin_topic} to someone who just got their first full-time job.",
    "I have {=fin_topic} and {=fin_topic2}. Which should I focus on first?",
]
FIN_BODY = [
    "Before you decide anything, {fin_action}.",
    "A sensible first step is to {fin_action}, and then {fin_action2}.",
    "Many people overlook {fin_topic}, yet it shapes how much room you have for everything else.",
    "Interest works in both directions: it grows your savings slowly and your debts quickly.",
    "If your income is irregular, {fin_action} and keep a larger cash buffer than usual.",
    "Whatever you choose, {fin_action}; small fees compound just like returns do.",
    "Compare at least three offers, and {fin_action}.",
    "Think about {=fin_topic} in terms of the total cost over its whole life, not the monthly payment alone.",
    "Inflation quietly erodes cash, so money you will not need for years usually belongs somewhere it can grow.",
    "Write down your goals with rough dates; it is much easier to judge {=fin_topic} against a concrete plan.",
    "Check how {=fin_topic} affects your taxes, since the rules differ from country to country.",
    "If anything in the contract is unclear, ask the lender to explain it in writing.",
    "Rates quoted as [monthly|weekly|daily] figures look small; convert them to an annual rate before you compare.",
    "A [spreadsheet|notebook|budgeting app] with one line per [account|debt|goal] makes the trade-offs much easier to see.",
    "Your [employer|bank|union|credit union] may offer [free|low-cost|subsidised] guidance on {fin_topic}.",
    "Sudden [job changes|moves|repairs|medical bills] are exactly why a cash cushion comes before riskier choices.",
    "[Review|Revisit|Check] the plan [every spring|once a quarter|after any pay rise|each January] and adjust the amounts.",
    "Avoid decisions made under pressure; a [reputable|trustworthy|legitimate] provider will give you time to read the terms.",
]
FIN_DISCLAIMER = [
    "This is general information rather than personal advice; a qualified adviser can look at your full situation.",
    "Everyone's circumstances differ, so treat this as a starting point rather than a recommendation.",
]


def advice_exchanges(w: Writer, n_ex: int, size: float) -> list[tuple[str, str]]:
    ctx = {"goal": w.pick(LEX["goal"])}
    out = []
    for i in range(n_ex):
        if i == 0:
            prompt = w.fill(w.draw(ADV_PROMPTS), ctx)
        else:
            prompt = w.fill(w.draw(["What if I only have a few free {time_unit} here and there?", "Which of these should I start with?",
                                    "How do I stay motivated when I feel {feeling}?", "Can you turn that into a weekly schedule?"]), ctx)
        parts = [w.paragraph(ADV_BODY, ctx, 1, 3)]
        n_tips = max(2, min(12, int(w.rng.lognormvariate(0, 0.4) * 3.5 * size)))
        tips = w.sentences(ADV_TIP, n_tips, ctx)
        if tips and w.rng.random() < 0.6:
            parts.append("\n".join(f"{k + 1}. {cap(t)}" for k, t in enumerate(tips)))
        elif tips:
            parts.append("\n".join(f"- {cap(t)}" for t in tips))
        parts += w.paragraphs(ADV_BODY, w.n_paragraphs(0.6 * size, lo=0), ctx, 2, 4)
        if w.rng.random() < 0.4:
            parts.append(w.fill(w.draw(LEX["closing"]) or "Good luck!"))
        out.append((prompt, "\n\n".join(p for p in parts if p)))
    return out


def finance_exchanges(w: Writer, n_ex: int, size: float) -> list[tuple[str, str]]:
    topic, topic2 = w.rng.sample(LEX["fin_topic"], 2)
    ctx = {"fin_topic": topic, "fin_topic2": topic2}
    out = []
    for i in range(n_ex):
        prompt = w.fill(w.draw(FIN_PROMPTS) if i == 0 else w.draw(
            ["Can you show me a quick example with numbers?", "What would you do first in my place?", "How often should I review this?"]), ctx)
        balance = w.rng.randrange(1200, 24000, 50)
        rate = w.rng.choice([3.5, 4.2, 5.9, 7.4, 9.9, 12.5, 18.9, 22.4, 24.9])
        interest = balance * rate / 100
        example = w.fill("[For example|As an illustration|To put numbers on it], a balance of {=b} at {=r}% a year costs about {=i} in interest over "
                         "[twelve months|a year] if nothing is repaid, or roughly {=m} [a month|per month].",
                         {"b": f"${balance:,}", "r": rate, "i": f"${interest:,.2f}", "m": f"${interest / 12:,.2f}"})
        parts = [w.paragraph(FIN_BODY, ctx, 2, 4), example]
        parts += w.paragraphs(FIN_BODY, w.n_paragraphs(1.0 * size, lo=0), ctx, 2, 3)
        parts.append(FIN_DISCLAIMER[i % 2])
        out.append((prompt, "\n\n".join(p for p in parts if p)))
    return out


# ---- cooking and travel -------------------------------------------------------------------------

FOOD_PROMPTS = [
    "How do I make {=dish} at home?",
    "Can you suggest a menu built around {=dish} for a dinner party of {=n_guests}?",
    "What's the secret to a really good {=dish}?",
    "I want to cook {=dish} but I don't have {ingredient}. What can I use instead?",
]
TRAVEL_PROMPTS = [
    "What should I see in {=place} if I only have {=n_days} days?",
    "I'm visiting {=place} in {season}. Any tips?",
    "Is {=place} a good destination for a first solo trip?",
    "Plan a relaxed weekend in {=place} for someone who loves food and museums.",
]
FOOD_BODY = [
    "[First|To begin|Next|Then|After that], {technique} the {ingredient} [over a medium heat|for about five minutes|until golden|in small batches|with a pinch of salt].",
    "A good {=dish} depends on decent {ingredient} and on patience more than on technique.",
    "If you cannot find {ingredient}, {ingredient2} works [surprisingly well|in a pinch|nearly as well].",
    "Many cooks in {place} add {ingredient} at the very end, which keeps the flavour bright.",
    "Do not rush the step where you {technique} the {ingredient}; that is where most of the flavour develops.",
    "Taste as you go and adjust the {ingredient} before serving.",
    "You can prepare the {ingredient} a day ahead and keep it covered in the fridge.",
    "For a lighter version, replace half of the {ingredient} with {ingredient2}.",
    "Serve it with {ingredient} on the side and something crisp and fresh to balance the richness.",
    "Let it rest for [ten|fifteen|twenty] minutes so the texture settles before you cut or spoon it.",
    "A common mistake is to {technique} everything at once; the pan cools and the {ingredient} steams instead.",
    "Use a heavy pan if you have one, because thin pans scorch the {ingredient} before it softens.",
    "Season in layers: a little salt early, then {ingredient} and a squeeze of lemon at the end.",
    "Leftovers keep for [two|three] days and often taste better once the flavours have settled.",
    "If guests are coming, make the {=dish} an hour early and warm it gently before serving.",
    "Cut everything to a similar size so the {ingredient} and the {ingredient2} cook evenly.",
]
TRAVEL_BODY = [
    "Spend your first morning at {travel_thing}, before the crowds arrive.",
    "{=place} is at its best in {season}, when the light is soft and the streets are quieter.",
    "Locals recommend {travel_thing} and, if you have time, a day trip to {place}.",
    "Book {travel_thing} in advance if you travel during {season}.",
    "Try the {dish} at {travel_thing}; it is a local favourite.",
    "Walking is the easiest way to see the old quarter, and the streets around {travel_thing} reward a slow pace.",
    "Public transport is [cheap|reliable|easy to use], but {travel_thing} is best reached on foot.",
    "Carry a little cash, because {travel_thing} and many small shops still prefer it.",
    "If the weather turns, {travel_thing} makes a [good|pleasant|welcome|cosy] indoor alternative.",
    "Save your last evening for {travel_thing}; it is a fitting way to end the trip.",
    "Learn a few words of the local language; people in {=place} appreciate the effort.",
    "Stay near the centre if you can, so that {travel_thing} and the station are within walking distance.",
    "Museums often close one day a week, so check opening hours before you plan {travel_thing}.",
    "For lunch, skip the main square and look for {travel_thing}, where prices are lower.",
]


def food_travel_exchanges(w: Writer, n_ex: int, size: float) -> list[tuple[str, str]]:
    travel = w.rng.random() < 0.5
    ctx = {"dish": w.pick(LEX["dish"]), "place": w.pick(LEX["place"]),
           "n_guests": w.pick(["four", "six", "eight", "ten"]), "n_days": w.pick(["two", "three", "four", "five"])}
    body = TRAVEL_BODY if travel else FOOD_BODY
    out = []
    for i in range(n_ex):
        if i == 0:
            prompt = w.fill(w.draw(TRAVEL_PROMPTS if travel else FOOD_PROMPTS), ctx)
        else:
            prompt = w.fill(w.draw(["What would you change for a vegetarian?", "Any tips for doing this on a budget?",
                                    "What should I avoid?", "How would this change in {season}?"]), ctx)
        parts = []
        if not travel and i == 0 and w.rng.random() < 0.6:
            ings: list[str] = []
            for _ in range(w.rng.randint(4, 8)):
                ing = w.pick(LEX["ingredient"])
                if ing not in ings:
                    ings.append(ing)
            amounts = ["1 tablespoon of", "2 cloves of", "a handful of", "200 g of", "1 teaspoon of", "a pinch of", "400 ml of", "3 sprigs of", "50 g of"]
            parts.append("**Ingredients**\n" + "\n".join(f"- {w.pick(amounts)} {x}" for x in ings))
        parts += w.paragraphs(body, w.n_paragraphs(1.6 * size if i == 0 else 1.0 * size), ctx)
        out.append((prompt, "\n\n".join(parts) or w.fill("Keep it simple and enjoy {=place}.", ctx)))
    return out


# ---- stories ------------------------------------------------------------------------------------

STORY_PROMPTS = [
    "Write a short story about {=protagonist} who finds {=object} in {=setting}.",
    "Tell me a story set in {=setting}, with {=protagonist} as the main character.",
    "Write a scene where {=protagonist} must decide whether to open {=object}.",
    "Write a gentle bedtime story about {=protagonist} and {=object}.",
]
STORY_BODY = [
    "{=hero} had lived in {=setting} for [eleven|twenty|thirty|nearly forty] years, and in all that time nothing truly unusual had happened.",
    "That evening {story_weather}.",
    "{=hero} turned the {=thing} over slowly, feeling {emotion} rise in the chest.",
    "Nobody in the neighbourhood remembered who had owned the {=thing} before.",
    "The next morning {story_weather}, and {=hero} set out before anyone else was awake.",
    "At the edge of the [harbour|square|orchard|platform|clearing], {=hero} met {character}, who seemed to be expecting the visit.",
    "\"You found it, then,\" said the stranger, glancing at the {=thing} with {emotion}.",
    "For a long moment {=hero} said nothing, listening to the [gulls|trains|bees|bells|wind] in the distance.",
    "It was not the first time {=hero} had felt {emotion}, but it was the first time it felt useful.",
    "Inside, wrapped in [oilcloth|newspaper|a faded scarf|brown paper], lay {story_object}.",
    "{=hero} laughed for the first time in [weeks|months|years], a sound that surprised even the [cat|neighbours|stranger|gulls].",
    "By the time {story_weather}, the decision had already been made.",
    "The walk home took longer than usual, because {=hero} kept stopping to look at the {=thing} again.",
    "Years later, people still told the story, though each version was a little different.",
    "{=hero} wrote a short note, folded it twice, and left it where {character} would be sure to find it.",
    "Some mysteries, {=hero} decided, were better kept than solved.",
    "A child from the [bakery|ferry|school|market] asked what the {=thing} was for, and {=hero} had no good answer.",
    "The town clock struck [nine|ten|eleven|midnight], and somewhere a dog began to bark.",
    "{=hero} remembered a [song|saying|story|recipe] from childhood that suddenly seemed to make sense.",
    "On the third day, {character} returned with a [ladder|lamp|boat|cart|ledger] and a plan.",
    "There was a faint mark on the {=thing}, a letter or a number, worn almost smooth by years of hands.",
    "When the [rain|fog|snow|heat] finally lifted, the whole of {=setting} looked newly washed.",
]


def story_thing(obj: str) -> str:
    """'a compass that pointed south' -> 'compass': the head noun, for later mentions."""
    head = re.split(r" (?:that|with|in|of|full)\b", obj.split(" ", 1)[1])[0]
    return head.split(" ")[-1]


def story_exchanges(w: Writer, n_ex: int, size: float) -> list[tuple[str, str]]:
    obj = w.pick(LEX["story_object"])
    ctx = {"protagonist": w.pick(LEX["character"]), "object": obj, "thing": story_thing(obj),
           "setting": w.pick(LEX["story_setting"]), "hero": w.pick(LEX["name"])}
    out = []
    for i in range(n_ex):
        prompt = w.fill(w.draw(STORY_PROMPTS) if i == 0 else w.draw(
            ["Can you continue the story?", "Rewrite the ending so that it is more hopeful.", "Now tell it from the point of view of {character}."]), ctx)
        title = f"**{w.pick(['The', 'A'])} {w.pick(['Key', 'Letter', 'Lantern', 'Map', 'Tide', 'Promise', 'Visitor', 'Silence', 'Gift', 'Harbour'])} of {ctx['hero']}**"
        n_par = w.n_paragraphs(2.0 * size if i == 0 else 1.2 * size, lo=2)
        parts = ([title] if i == 0 and w.rng.random() < 0.5 else []) + w.paragraphs(STORY_BODY, n_par, ctx, 2, 5)
        out.append((prompt, "\n\n".join(parts) or w.fill("And so the story of {=hero} ended, quietly, in {=setting}.", ctx)))
    return out


# ---- coding -------------------------------------------------------------------------------------


def to_3s(phrase: str) -> str:
    """'count how many' -> 'counts how many' (first word to third person singular)."""
    verb, _, rest = phrase.partition(" ")
    if verb.endswith(("s", "x", "z", "ch", "sh")):
        verb += "es"
    elif verb.endswith("y") and verb[-2:-1] not in "aeiou":
        verb = verb[:-1] + "ies"
    else:
        verb += "s"
    return f"{verb} {rest}".strip()


@dataclass
class CodeTask:
    task: str  # infinitive phrase: "count how many orders have a price above a threshold"
    lang: str
    code: str
    notes: list[str]  # task-specific explanation sentences
    usage: str = ""


def _nums(w: Writer, k: int, lo: int = 1, hi: int = 99) -> list[int]:
    return [w.rng.randint(lo, hi) for _ in range(k)]


N_CODE_TASKS = 18
_PH_RE = re.compile(r"<<([a-z_0-9]+)>>")


def code_names(w: Writer, c: dict) -> dict:
    """Identifiers for one code answer: most names vary, so two answers to the same task differ."""
    s, pl, attr, key = c["s"], c["pl"], c["attr"], c["key"]
    i, j = w.pick([("i", "j"), ("a", "b"), ("left_i", "right_i"), ("p", "q"), ("x", "y")])
    return {
        "s": s, "pl": pl, "attr": attr, "key": key, "S": s.capitalize(),
        "item": w.pick([s, s, "item", "entry", "rec", "row"]),
        "seq": w.pick([pl, pl, "items", "entries", "records", "rows", f"all_{pl}"]),
        "out": w.pick(["result", "out", "collected", "kept", "output", "selected", "picked", "acc"]),
        "cnt": w.pick(["total", "count", "matches", "hits", "tally", "n_found", "how_many"]),
        "lim": w.pick(["threshold", "limit", "cutoff", "minimum", "bound", f"min_{attr}"]),
        "i": i, "j": j,
        "vals": w.pick(["values", "numbers", f"{attr}_values", "series", "data", "xs", f"{attr}s"]),
        "win": w.pick(["window", "size", "width", "span", "n"]),
        "lo": w.pick(["lo", "low", "left", "start", "first"]), "hi": w.pick(["hi", "high", "right", "end", "last"]),
        "mid": w.pick(["mid", "middle", "centre", "m", "probe"]),
        "tgt": w.pick(["target", "wanted", "needle", "goal", "value"]),
        "seen": w.pick(["seen", "already_seen", f"seen_{key}s", "known", "visited"]),
        "grp": w.pick(["groups", f"by_{key}", "buckets", "grouped", "index", "table"]),
        "txt": w.pick(["text", "raw", "content", "blob", "source_text"]),
        "ln": w.pick(["line", "raw_line", "entry_line", "current"]),
        "no": w.pick(["line_no", "lineno", "number", "row_no", "n"]),
        "chunk": w.pick(["size", "batch_size", "chunk", "per_batch", "step"]),
        "verb": w.pick(["get", "find", "compute", "collect", "build", "make"]),
        "cls_suffix": w.pick(["Registry", "Inventory", "Ledger", "Catalogue", "Tracker", "Store", "Book", "Index"]),
    }


def _ph(template: str, nm: dict) -> str:
    return _PH_RE.sub(lambda m: str(nm[m.group(1)]), template)


def code_task(w: Writer, c: dict, kind: int) -> CodeTask:
    nm = code_names(w, c)
    s, pl, attr, key = c["s"], c["pl"], c["attr"], c["key"]
    pick_notes = lambda notes: [_ph(n, nm) for n in w.rng.sample(notes, 2)]  # noqa: E731
    P = lambda t: _ph(t, nm)  # noqa: E731
    if kind == 0:
        fn = w.pick([f"count_{pl}_above", f"num_{pl}_over", f"how_many_{pl}_exceed", f"count_high_{attr}_{pl}"])
        vals = _nums(w, w.rng.randint(3, 6))
        lim = w.rng.randint(10, 80)
        nm["doc"] = w.pick([f"Return how many {pl} have a {attr} greater than {nm['lim']}.",
                            f"Count the {pl} whose {attr} exceeds {nm['lim']}.", f"Number of {pl} above the {attr} limit."])
        if w.rng.random() < 0.5:
            body = P(f'    """<<doc>>"""\n    <<cnt>> = 0\n    for <<item>> in <<seq>>:\n        if <<item>>["<<attr>>"] > <<lim>>:\n            <<cnt>> += 1\n    return <<cnt>>')
        else:
            body = P(f'    """<<doc>>"""\n    return sum(1 for <<item>> in <<seq>> if <<item>>["<<attr>>"] > <<lim>>)')
        items = ", ".join(f'{{"{attr}": {v}}}' for v in vals)
        return CodeTask(
            f"count how many {pl} have a {attr} above a given threshold", "python",
            P(f"def {fn}(<<seq>>, <<lim>>):\n") + _ph(body, nm),
            pick_notes(["It adds one for every <<item>> whose `<<attr>>` is strictly greater than `<<lim>>`.",
                        "If you want to include values exactly at the threshold, change `>` to `>=`.",
                        "Summing ones from a generator avoids building an intermediate list.",
                        "The comparison reads the `<<attr>>` key, so each record must be a dictionary."]),
            f"{nm['seq']} = [{items}]\nprint({fn}({nm['seq']}, {lim}))\n# {sum(v > lim for v in vals)}",
        )
    if kind == 1:
        fn = w.pick([f"group_{pl}_by_{key}", f"{pl}_by_{key}", f"index_{pl}_on_{key}", f"bucket_{pl}"])
        code = P(f"from collections import defaultdict\n\n\ndef {fn}(<<seq>>):\n"
                 f'    """Map each <<key>> to the list of {pl} that share it, keeping input order."""\n'
                 f"    <<grp>> = defaultdict(list)\n    for <<item>> in <<seq>>:\n        <<grp>>[<<item>>[\"<<key>>\"]].append(<<item>>)\n    return dict(<<grp>>)")
        if w.rng.random() < 0.4:
            code = P(f"def {fn}(<<seq>>):\n    <<grp>> = {{}}\n    for <<item>> in <<seq>>:\n"
                     f"        <<grp>>.setdefault(<<item>>[\"<<key>>\"], []).append(<<item>>)\n    return <<grp>>")
        return CodeTask(
            f"group a list of {pl} by their {key}", "python", code,
            pick_notes(["Each new <<key>> gets an empty list the first time it appears, so no membership test is needed.",
                        "The groups keep the order in which the {pl} arrived.".replace("{pl}", pl),
                        "Returning a plain `dict` means callers do not create empty groups by reading a missing <<key>>.",
                        "`dict.setdefault` and `defaultdict` are two spellings of the same idea."]),
        )
    if kind == 2:
        vals = _nums(w, w.rng.randint(5, 8), 10, 60)
        win = w.rng.choice([2, 3, 4])
        avgs = [round(sum(vals[k:k + win]) / win, 2) for k in range(len(vals) - win + 1)]
        fn = w.pick([f"rolling_{attr}", f"moving_average_{attr}", f"smooth_{attr}", f"{attr}_trend"])
        code = P(f"def {fn}(<<vals>>, <<win>>):\n"
                 f'    """Average of each run of `<<win>>` consecutive {attr} readings."""\n'
                 f"    if <<win>> <= 0:\n        raise ValueError(\"<<win>> must be a positive integer\")\n"
                 f"    <<out>> = []\n    running = sum(<<vals>>[:<<win>>])\n    if len(<<vals>>) >= <<win>>:\n        <<out>>.append(running / <<win>>)\n"
                 f"    for <<i>> in range(<<win>>, len(<<vals>>)):\n        running += <<vals>>[<<i>>] - <<vals>>[<<i>> - <<win>>]\n        <<out>>.append(running / <<win>>)\n    return <<out>>")
        return CodeTask(
            f"compute a moving average of {s} {attr} values over a fixed window", "python", code,
            pick_notes(["Instead of summing every window from scratch, it adds the newest value and subtracts the one that falls out.",
                        "A list shorter than the window simply returns an empty result.",
                        "The running sum keeps the cost linear in the number of readings.",
                        "Floating-point drift is negligible here, but `math.fsum` is an option for very long series."]),
            f"print({fn}({vals}, {win}))\n# {avgs}",
        )
    if kind == 3:
        k = w.rng.randint(2, 6)
        fn = w.pick([f"top_{pl}_by_{attr}", f"highest_{attr}_{pl}", f"best_{pl}", f"largest_{attr}"])
        if w.rng.random() < 0.5:
            code = P(f"import heapq\n\n\ndef {fn}(<<seq>>, k={k}):\n    \"\"\"The k {pl} with the largest {attr}, highest first.\"\"\"\n"
                     f"    return heapq.nlargest(k, <<seq>>, key=lambda <<item>>: <<item>>[\"<<attr>>\"])")
        else:
            code = P(f"def {fn}(<<seq>>, k={k}):\n    <<out>> = sorted(<<seq>>, key=lambda <<item>>: <<item>>[\"<<attr>>\"], reverse=True)\n    return <<out>>[:k]")
        return CodeTask(
            f"return the {k} {pl} with the highest {attr}", "python", code,
            pick_notes(["`heapq.nlargest` keeps only k candidates, which is cheaper than a full sort when k is small.",
                        f"Ties in `{attr}` keep the order in which the records appear in the input.",
                        "Sorting the whole list is simpler and perfectly fine for a few thousand records.",
                        "Passing `key=` avoids comparing the dictionaries themselves."]),
        )
    if kind == 4:
        fn = w.pick([f"unique_{pl}_by_{key}", f"dedupe_{pl}", f"first_{s}_per_{key}", f"drop_repeated_{pl}"])
        code = P(f"def {fn}(<<seq>>):\n"
                 f'    """Drop later {pl} whose {key} was already seen; order is preserved."""\n'
                 f"    <<seen>> = set()\n    <<out>> = []\n    for <<item>> in <<seq>>:\n        marker = <<item>>[\"<<key>>\"]\n"
                 f"        if marker in <<seen>>:\n            continue\n        <<seen>>.add(marker)\n        <<out>>.append(<<item>>)\n    return <<out>>")
        return CodeTask(
            f"remove duplicate {pl} that share the same {key}, keeping the first one", "python", code,
            pick_notes(["A set gives constant-time membership tests, so the whole pass is linear.",
                        f"The values of `{key}` must be hashable; strings and numbers are fine.",
                        "Keeping the first occurrence makes the result independent of later, possibly stale, copies.",
                        "If you need the last occurrence instead, iterate over the reversed list and reverse the result."]),
        )
    if kind == 5:
        a = sorted(_nums(w, w.rng.randint(3, 5)))
        b = sorted(_nums(w, w.rng.randint(2, 4)))
        fn = w.pick([f"merge_{attr}_lists", f"merge_sorted_{attr}", f"combine_{attr}_readings", f"interleave_{attr}"])
        code = P(f"def {fn}(<<lo>>, <<hi>>):\n"
                 f'    """Merge two ascending lists of {attr} values in linear time."""\n'
                 f"    <<out>>, <<i>>, <<j>> = [], 0, 0\n    while <<i>> < len(<<lo>>) and <<j>> < len(<<hi>>):\n"
                 f"        if <<lo>>[<<i>>] <= <<hi>>[<<j>>]:\n            <<out>>.append(<<lo>>[<<i>>])\n            <<i>> += 1\n"
                 f"        else:\n            <<out>>.append(<<hi>>[<<j>>])\n            <<j>> += 1\n"
                 f"    <<out>>.extend(<<lo>>[<<i>>:])\n    <<out>>.extend(<<hi>>[<<j>>:])\n    return <<out>>")
        return CodeTask(
            f"merge two sorted lists of {attr} measurements into one sorted list", "python", code,
            pick_notes(["Two indexes walk through the inputs side by side, always taking the smaller head.",
                        "This is the merge step of merge sort.", "Using `<=` makes the merge stable.",
                        "`heapq.merge` does the same lazily if you prefer the standard library."]),
            f"print({fn}({a}, {b}))\n# {sorted(a + b)}",
        )
    if kind == 6:
        vals = sorted(set(_nums(w, w.rng.randint(6, 9), 1, 300)))
        target = w.pick(vals)
        fn = w.pick([f"find_{attr}", f"locate_{attr}", f"index_of_{attr}", f"search_{attr}"])
        code = P(f"def {fn}(sorted_<<vals>>, <<tgt>>):\n"
                 f'    """Index of <<tgt>> in the ascending list, or -1 if it is absent."""\n'
                 f"    <<lo>>, <<hi>> = 0, len(sorted_<<vals>>) - 1\n    while <<lo>> <= <<hi>>:\n        <<mid>> = (<<lo>> + <<hi>>) // 2\n"
                 f"        if sorted_<<vals>>[<<mid>>] == <<tgt>>:\n            return <<mid>>\n        if sorted_<<vals>>[<<mid>>] < <<tgt>>:\n"
                 f"            <<lo>> = <<mid>> + 1\n        else:\n            <<hi>> = <<mid>> - 1\n    return -1")
        return CodeTask(
            f"find the position of a {attr} value in a sorted list using binary search", "python", code,
            pick_notes(["Each comparison halves the remaining range, so the search needs about log2(n) steps.",
                        "The standard library's `bisect` module offers the same idea.",
                        "The list must already be sorted; otherwise the answer is meaningless.",
                        "Returning -1 mirrors `str.find`; raising `ValueError` would mirror `list.index`."]),
            f"print({fn}({vals}, {target}))\n# {vals.index(target)}",
        )
    if kind == 7:
        n = w.rng.randint(3, 12)
        field_ = w.pick(["description", "notes", "summary", "comment", "title"])
        fn = w.pick([f"common_words_in_{pl}", f"frequent_{field_}_words", f"top_terms_{pl}", f"word_counts_{pl}"])
        code = P(f"import re\nfrom collections import Counter\n\n\ndef {fn}(<<seq>>, n={n}):\n"
                 f'    """The n most frequent words across every {s} {field_}, ignoring case."""\n'
                 f"    <<out>> = Counter()\n    for <<item>> in <<seq>>:\n        <<out>>.update(re.findall(r\"[a-z']+\", <<item>>[\"{field_}\"].lower()))\n"
                 f"    return <<out>>.most_common(n)")
        return CodeTask(
            f"find the {n} most common words in the {field_} field of {pl}", "python", code,
            pick_notes(["`Counter.most_common` returns (word, count) pairs sorted by count.",
                        "The regular expression keeps apostrophes so that words such as \"don't\" stay whole.",
                        "Lower-casing first means \"The\" and \"the\" are counted together.",
                        "You may want to drop stop words such as \"and\" before counting."]),
        )
    if kind == 8:
        cls = nm["S"] + nm["cls_suffix"]
        store = w.pick([pl, "items", "entries", "data", "by_name", "table"])
        ident = w.pick(["name", "label", "key", "ident", "code"])
        add, rem = w.pick([("add", "remove"), ("put", "drop"), ("register", "unregister"), ("record", "discard")])
        total = w.pick([f"total_{attr}", f"sum_{attr}", f"combined_{attr}", f"{attr}_total"])
        code = P(f"class {cls}:\n    \"\"\"{w.pick(['Holds', 'Keeps', 'Stores', 'Tracks'])} {pl} by {ident} and reports their combined {attr}.\"\"\"\n\n"
                 f"    def __init__(self):\n        self._{store} = {{}}\n\n"
                 f"    def {add}(self, {ident}, {attr}):\n        if {attr} < 0:\n            raise ValueError(\"{attr} cannot be negative\")\n        self._{store}[{ident}] = {attr}\n\n"
                 f"    def {rem}(self, {ident}):\n        self._{store}.pop({ident}, None)\n\n"
                 f"    def {total}(self):\n        return sum(self._{store}.values())")
        return CodeTask(
            f"keep track of {pl} in a small class that can add, remove and total their {attr}", "python", code,
            pick_notes([f"Storing the {pl} in a dictionary keyed by {ident} makes `{add}` and `{rem}` constant-time operations.",
                        f"`{rem}` uses `pop({ident}, None)` so that removing an unknown {ident} is not an error.",
                        f"Validating `{attr}` in `add` keeps bad data out of the totals.",
                        "A `dataclass` would work too if you prefer less boilerplate."]),
        )
    if kind == 9:
        fn = w.pick([f"parse_{pl}", f"read_{pl}", f"load_{pl}_from_text", f"{pl}_from_lines"])
        code = P(f"def {fn}(<<txt>>):\n"
                 f'    """Turn "name,{attr}" lines into dicts; bad lines are reported and skipped."""\n'
                 f"    <<out>> = []\n    for <<no>>, <<ln>> in enumerate(<<txt>>.splitlines(), start=1):\n"
                 f"        name, sep, raw_{attr} = <<ln>>.partition(\",\")\n        try:\n            value = float(raw_{attr})\n"
                 f"        except ValueError:\n            print(f\"line {{<<no>>}}: cannot read {attr} from {{<<ln>>!r}}\")\n            continue\n"
                 f"        if not sep or not name.strip():\n            continue\n"
                 f"        <<out>>.append({{\"name\": name.strip(), \"{attr}\": value}})\n    return <<out>>")
        return CodeTask(
            f"parse lines of the form `name,{attr}` into a list of {pl}, skipping malformed lines", "python", code,
            pick_notes(["`str.partition` never raises, which makes it a safe first step before converting the number.",
                        "Reporting the line number makes bad input much easier to fix.",
                        "For real CSV files with quoting, use the `csv` module instead.",
                        "Logging instead of printing would let callers silence the warnings."]),
        )
    if kind == 10:
        fn = w.pick([f"flatten_{s}_ids", f"iter_{s}_ids", f"all_{s}_ids", f"walk_{s}_ids"])
        code = P(f"def {fn}(nested):\n"
                 f'    """Yield every {s} id from nested lists, depth first."""\n'
                 f"    for <<item>> in nested:\n        if isinstance(<<item>>, list):\n            yield from {fn}(<<item>>)\n        else:\n            yield <<item>>")
        ids = _nums(w, 5, 1, 900)
        return CodeTask(
            f"flatten an arbitrarily nested list of {s} identifiers", "python", code,
            pick_notes(["`yield from` delegates to the recursive call, so ids are produced lazily.",
                        "Very deep nesting could hit Python's recursion limit; an explicit stack avoids that.",
                        "Tuples are left alone here; add them to the `isinstance` check if they can appear.",
                        "Wrap the call in `list()` when you need all ids at once."]),
            f"print(list({fn}([{ids[0]}, [{ids[1]}, [{ids[2]}, {ids[3]}]], {ids[4]}])))\n# {ids}",
        )
    if kind == 11:
        fn = w.pick([f"total{attr.capitalize()}By{key.capitalize()}", f"sum{attr.capitalize()}Per{key.capitalize()}",
                     f"{attr}Totals"])
        acc = w.pick(["acc", "totals", "sums", "memo", "byKey"])
        code = P(f"function {fn}(<<seq>>) {{\n  // Returns an object mapping each {key} to its summed {attr}.\n"
                 f"  return <<seq>>.reduce(({acc}, <<item>>) => {{\n    {acc}[<<item>>.{key}] = ({acc}[<<item>>.{key}] ?? 0) + <<item>>.{attr};\n    return {acc};\n  }}, {{}});\n}}")
        return CodeTask(
            f"sum the {attr} of {pl} per {key}", "javascript", code,
            pick_notes(["`reduce` threads an accumulator object through the array, adding each value to its group.",
                        "The `??` operator treats a missing group as zero without confusing it with other falsy values.",
                        "A `Map` would be the better choice if the keys are not strings.",
                        "Older browsers may need a transpiler for the `??` operator."]),
        )
    if kind == 12:
        m = w.rng.randint(2, 40)
        alias = w.pick(["avg_", "mean_", "average_"]) + attr
        code = (f"SELECT {key},\n       COUNT(*) AS {s}_count,\n       AVG({attr}) AS {alias}\nFROM {pl}\n"
                f"{w.pick(['', f'WHERE {attr} IS NOT NULL' + chr(10)])}GROUP BY {key}\nHAVING COUNT(*) >= {m}\nORDER BY {alias} {w.pick(['DESC', 'ASC'])};")
        return CodeTask(
            f"write an SQL query that lists the average {attr} of {pl} for every {key} with at least {m} rows", "sql", code,
            pick_notes(["`WHERE` filters rows before grouping, while `HAVING` filters the groups themselves.",
                        f"An index on `{key}` helps the database group the rows without a full sort.",
                        "`AVG` ignores NULL values, so rows without a value do not drag the average down.",
                        "Aliases in `ORDER BY` are allowed by most databases, though not inside `HAVING`."]),
        )
    if kind == 13:
        lo_v, hi_v = w.rng.randint(0, 40), w.rng.randint(50, 900)
        fn = w.pick([f"checked_{attr}", f"validate_{attr}", f"safe_{attr}", f"{attr}_in_range"])
        code = P(f"def {fn}(value, clamp=False, <<lo>>={lo_v}, <<hi>>={hi_v}):\n"
                 f'    """Validate a {attr}; with clamp=True, pull it into range instead of failing."""\n'
                 f"    if not isinstance(value, (int, float)):\n        raise TypeError(f\"{attr} must be a number, got {{type(value).__name__}}\")\n"
                 f"    if <<lo>> <= value <= <<hi>>:\n        return value\n    if clamp:\n        return max(<<lo>>, min(<<hi>>, value))\n"
                 f"    raise ValueError(f\"{attr} {{value}} is outside [{{<<lo>>}}, {{<<hi>>}}]\")")
        return CodeTask(
            f"check that a {s} {attr} lies between {lo_v} and {hi_v} and clamp it if asked", "python", code,
            pick_notes(["Chained comparisons such as `low <= value <= high` read like the mathematical notation.",
                        "Error messages that include the bad value save a lot of time when debugging.",
                        "Note that `bool` is a subclass of `int`, so `True` passes the type check.",
                        "Clamping is handy for sensor data, but hides bugs in business logic."]),
        )
    if kind == 14:
        size = w.rng.randint(2, 64)
        fn = w.pick([f"batch_{pl}", f"chunk_{pl}", f"{pl}_in_batches", f"split_{pl}"])
        code = P(f"def {fn}(<<seq>>, <<chunk>>={size}):\n"
                 f'    """Yield consecutive slices of at most `<<chunk>>` {pl}."""\n'
                 f"    if <<chunk>> < 1:\n        raise ValueError(\"<<chunk>> must be at least 1\")\n"
                 f"    for start in range(0, len(<<seq>>), <<chunk>>):\n        yield <<seq>>[start:start + <<chunk>>]")
        return CodeTask(
            f"split a list of {pl} into batches of {size}", "python", code,
            pick_notes(["Stepping `range` by the batch size gives the start of each slice; the last batch may be shorter.",
                        "Because it is a generator, callers can process one batch at a time.",
                        "Python 3.12 adds `itertools.batched`, which does the same for any iterable.",
                        "Slicing copies the elements' references, not the elements themselves."]),
        )
    if kind == 15:
        vals = _nums(w, w.rng.randint(4, 7), 5, 95)
        lo, hi = min(vals), max(vals)
        scaled = [round((v - lo) / (hi - lo), 3) if hi > lo else 0.0 for v in vals]
        fn = w.pick([f"normalise_{attr}", f"rescale_{attr}", f"{attr}_to_unit_range", f"minmax_{attr}"])
        code = P(f"def {fn}(<<vals>>):\n"
                 f'    """Min-max scale {attr} values to [0, 1]; a constant list maps to zeros."""\n'
                 f"    <<lo>>, <<hi>> = min(<<vals>>), max(<<vals>>)\n    spread = <<hi>> - <<lo>>\n"
                 f"    if spread == 0:\n        return [0.0 for _ in <<vals>>]\n    return [(v - <<lo>>) / spread for v in <<vals>>]")
        return CodeTask(
            f"rescale the {attr} of each {s} to the range 0 to 1", "python", code,
            pick_notes(["Subtracting the minimum and dividing by the spread maps the smallest value to 0 and the largest to 1.",
                        "The zero-spread check avoids a division by zero when every value is the same.",
                        "Outliers squeeze everything else toward zero; a robust scaler may suit skewed data better.",
                        "Remember to reuse the same minimum and maximum when you scale new data later."]),
            f"print([round(v, 3) for v in {fn}({vals})])\n# {scaled}",
        )
    if kind == 16:
        fn = w.pick([f"running_{attr}", f"cumulative_{attr}", f"{attr}_so_far", f"accumulate_{attr}"])
        vals = _nums(w, w.rng.randint(4, 7), 1, 50)
        code = P(f"from itertools import accumulate\n\n\ndef {fn}(<<vals>>):\n"
                 f'    """Running totals of the {attr} readings, one per input value."""\n    return list(accumulate(<<vals>>))')
        return CodeTask(
            f"compute the running total of {s} {attr} values", "python", code,
            pick_notes(["`itertools.accumulate` adds each value to the previous total for you.",
                        "Pass `func=max` to get a running maximum instead of a running sum.",
                        "The result has the same length as the input.",
                        "An empty input gives an empty list."]),
            f"print({fn}({vals}))\n# {list(accumulate(vals))}",
        )
    fn = w.pick([f"{pl}_per_{key}", f"count_{pl}_per_{key}", f"tally_{key}", f"{key}_histogram"])
    code = P(f"from collections import Counter\n\n\ndef {fn}(<<seq>>):\n"
             f'    """How many {pl} fall under each {key}, most common first."""\n'
             f"    return Counter(<<item>>[\"<<key>>\"] for <<item>> in <<seq>>).most_common()")
    return CodeTask(
        f"count how many {pl} there are for each {key}", "python", code,
        pick_notes(["`Counter` does the bookkeeping, and `most_common()` sorts by count.",
                    f"Records without a `{key}` raise `KeyError`; use `.get` if that can happen.",
                    "The generator expression avoids building an intermediate list.",
                    "Convert the result with `dict()` if you need lookups by key."]),
    )


CODE_PROMPTS = [
    "Write a {lang_name} function to {=task}. {constraint}",
    "How can I {=task} in {lang_name}?",
    "I have a list of {=pl}, and each one is a record with a `{=attr}` and a `{=key}` field. What is a clean way to {=task}?",
    "Can you show me how to {=task}? {constraint}",
    "Create a {lang_name} solution that {=task3s}. {constraint} Additionally, explain how it behaves on edge cases.",
    "I'm building a small app that manages {=pl}. I need code that {=task3s}. {constraint}",
]
CODE_INTRO = [
    "Here is a [simple|clean|practical|readable] way to do it.", "Sure! Below is a straightforward implementation.", "You can do this in a few lines.",
    "Here is one approach that stays readable.", "A compact solution looks like this.", "Here is a version with comments.",
]
CODE_GENERIC = [
    "The function walks through the {=pl} once, so its running time grows linearly with the input.",
    "Because it never modifies the data it receives, you can safely call it on {=pl} that other parts of the program still use.",
    "If a {=s} might lack the `{=attr}` field, read it with `.get(\"{=attr}\")` and decide what a missing value should mean.",
    "For very large inputs, consider streaming the {=pl} from disk instead of loading them all into memory at once.",
    "An empty input simply produces an empty result rather than an error.",
    "If the {=pl} come from a database, it is usually faster to push this work into the query itself.",
    "Type hints such as `list[dict]` would document the expected input without changing how the code runs.",
    "A couple of small unit tests, one with typical {=pl} and one with an empty list, will catch most regressions.",
    "Naming the function after what it returns makes the calling code read almost like a sentence.",
]
CODE_FOLLOWUPS = [
    "Thanks! Could you also show me how to {=task2}?",
    "Nice. Now I also need to {=task2}. How would you do that?",
    "One more thing: what is a good way to {=task2}?",
    "That works. Next I want to {=task2}.",
]


def coding_exchanges(w: Writer, n_ex: int, size: float) -> list[tuple[str, str]]:
    s, pl = w.pick(CODE_NOUNS)
    c = {"s": s, "pl": pl, "attr": w.pick(CODE_ATTRS), "key": w.pick(CODE_KEYS)}
    kinds = w.rng.sample(range(N_CODE_TASKS), n_ex + 1)
    tasks = [code_task(w, c, k) for k in kinds]
    out = []
    for i in range(n_ex):
        t = tasks[i]
        lang_name = {"python": "Python", "javascript": "JavaScript", "sql": "SQL"}[t.lang]
        ctx = dict(c, task=t.task, task3s=to_3s(t.task), task2=t.task, lang_name=lang_name)
        if i == 0:
            prompt = w.fill(w.draw(CODE_PROMPTS), dict(ctx, constraint=w.pick(CODE_LANG_TASK_CONSTRAINTS)))
        else:
            prompt = w.fill(w.draw(CODE_FOLLOWUPS) or "Could you also {=task2}?", ctx)
        parts = [w.fill(w.draw(CODE_INTRO) or "Here you go.", ctx), f"```{t.lang}\n{t.code}\n```", " ".join(t.notes)]
        if t.usage:
            parts.append(w.pick(["Example:", "For example:", "Usage:", "A quick check:"]) + f"\n\n```{t.lang}\n{t.usage}\n```")
        n_extra = w.n_paragraphs(0.6 * size, lo=0, hi=8)
        if n_extra:
            parts.append(" ".join(w.sentences(CODE_GENERIC, n_extra + 1, ctx)))
        if n_extra >= 3:
            parts.append(w.paragraph(CODE_GENERIC, ctx, 2, 3))
        out.append((prompt, "\n\n".join(p for p in parts if p)))
    return out


# ---- math word problems -------------------------------------------------------------------------


def money(x: float) -> str:
    return f"${x:,.2f}"


N_MATH_KINDS = 12
LEX.update(
    {
        "shop": words("""a farmers' market | the corner shop | a garden centre | a bookshop | a hardware store | a bakery |
                      a stationery shop | the school fair | a flea market | an online store | a museum gift shop"""),
        "buy_verb": words("buys | picks up | orders | purchases | gets"),
        "vehicle": words("train | bus | cyclist | delivery van | ferry | car | tram | motorbike | coach | runner"),
        "container": words("bag | jar | box | tin | drawer | bowl | basket | pouch"),
        "counter_obj": words("marbles | beads | buttons | counters | sweets | tokens | pebbles | cards | balls | ribbons"),
        "colour": words("red | blue | green | yellow | purple | orange | white | black | striped | silver | pink | brown"),
        "chore": words("""paint a fence | sort a pile of letters | weed the allotment | assemble the shelves | clean the gym |
                       pick the apples | tile the bathroom | proofread a report | wash the minibus | stack the chairs |
                       plant the seedlings | label the parcels"""),
        "purchase": words("""jacket | bicycle helmet | desk lamp | pair of boots | backpack | blender | tent | guitar | kettle |
                          rug | printer | camera bag | office chair | winter coat"""),
        "subject": words("chemistry | history | statistics | French | biology | geography | music theory | economics | physics | Latin"),
    }
)


def math_problem(w: Writer, kind: int) -> tuple[str, str]:
    F = lambda _tpl, **v: w.fill(_tpl, v)  # noqa: E731
    name, name2, name3 = w.rng.sample(LEX["name"], 3)
    if kind == 0:
        (_, pa_), (_, pb_) = w.rng.sample(MATH_ITEMS, 2)
        a, b = w.rng.randint(2, 14), w.rng.randint(2, 14)
        pa, pb = w.rng.randint(35, 2400) / 100, w.rng.randint(35, 2400) / 100
        total = round(a * pa + b * pb, 2)
        bill = (int(total // 20) + 1) * 20 + w.pick([0, 20, 30, 50])
        q = F("At {shop}, {=n} {buy_verb} {=a} {=x} [at|for] {=pa} each and {=b} {=y} [at|for] {=pb} each. "
              "[If|Suppose] {=n} [pays with|hands over] {=bill}, how much change [should|will] {=n} [get back|receive]?",
              n=name, a=a, x=pa_, pa=money(pa), b=b, y=pb_, pb=money(pb), bill=money(bill))
        steps = [
            F("[First|To start|Begin with the {=x}]: {=a} × {=p} = {=c}.", x=pa_, a=a, p=money(pa), c=money(a * pa)),
            F("[Next|Then|Second], the {=x} cost {=a} × {=p} = {=c}.", x=pb_, a=b, p=money(pb), c=money(b * pb)),
            F("[Adding them gives|The total is|Together that makes] {=c1} + {=c2} = {=t}.", c1=money(a * pa), c2=money(b * pb), t=money(total)),
            F("[Finally|Last|The change is what is left], {=b} − {=t} = {=r}.", b=money(bill), t=money(total), r=money(bill - total)),
        ]
        ans = f"{name} should get back {money(bill - total)}."
    elif kind == 1:
        v1, v2 = w.rng.choice([12, 18, 40, 50, 60, 72, 80, 90, 110]), w.rng.choice([15, 30, 45, 60, 75, 100, 120])
        t1, t2 = w.rng.choice([0.5, 1, 1.5, 2, 2.5, 3]), w.rng.choice([0.25, 0.5, 0.75, 1, 1.25, 1.75])
        d1, d2 = v1 * t1, v2 * t2
        avg = (d1 + d2) / (t1 + t2)
        vehicle = w.pick(LEX["vehicle"])
        q = F("A {=v} [travels|covers|goes] {=d1} km at {=v1} km/h and then {=d2} km at {=v2} km/h. "
              "[What is its average speed for the whole journey?|Find the average speed over the entire trip.|How fast did it go on average?]",
              v=vehicle, d1=f"{d1:g}", v1=v1, d2=f"{d2:g}", v2=v2)
        steps = [
            F("[Time for the first part|The first leg takes|First stretch]: {=d} ÷ {=v} = {=t} h.", d=f"{d1:g}", v=v1, t=f"{t1:g}"),
            F("[Time for the second part|The second leg takes|Second stretch]: {=d} ÷ {=v} = {=t} h.", d=f"{d2:g}", v=v2, t=f"{t2:g}"),
            F("[Total distance|Distance altogether]: {=d} km; [total time|time altogether]: {=t} h.", d=f"{d1 + d2:g}", t=f"{t1 + t2:g}"),
            F("[Average speed = total distance ÷ total time|Dividing distance by time] = {=d} ÷ {=t} ≈ {=a} km/h.", d=f"{d1 + d2:g}", t=f"{t1 + t2:g}", a=f"{avg:.2f}"),
            F("[Note that|Notice that] this is [not|different from] the simple average of {=v1} and {=v2}, because the {=v} spends [more|a different amount of] time at one speed.", v1=v1, v2=v2, v=vehicle),
        ]
        ans = f"The average speed is about {avg:.2f} km/h."
    elif kind == 2:
        price = w.rng.randint(20, 900) + w.pick([0, 0.5, 0.99, 0.25])
        disc, tax = w.pick([5, 10, 15, 20, 25, 30, 35, 40, 50]), w.pick([3, 5, 6, 7, 8, 10, 12, 15, 20])
        after = price * (1 - disc / 100)
        final = after * (1 + tax / 100)
        thing = w.pick(LEX["purchase"])
        q = F("{=n} [sees|finds|spots] a {=t} priced at {=p} with {=d}% off. [Sales tax of {=x}% is added after the discount.|A {=x}% tax applies to the discounted price.] [What is the final price?|How much does {=n} pay in the end?]",
              n=name, t=thing, p=money(price), d=disc, x=tax)
        steps = [
            F("[Discount|Saving]: {=d}% of {=p} is {=s}, so the sale price is {=a}.", d=disc, p=money(price), s=money(price * disc / 100), a=money(after)),
            F("[Tax|Tax on the sale price]: {=x}% of {=a} is {=t}.", x=tax, a=money(after), t=money(after * tax / 100)),
            F("[Final price|Amount paid]: {=a} + {=t} = {=f}.", a=money(after), t=money(after * tax / 100), f=money(final)),
        ]
        ans = f"The {thing} costs {money(final)} in the end."
    elif kind == 3:
        L, W, p = w.rng.randint(6, 48), w.rng.randint(4, 30), w.pick([0.5, 1, 1.5, 2, 2.5])
        outer = (L + 2 * p) * (W + 2 * p)
        path = outer - L * W
        per = 2 * ((L + 2 * p) + (W + 2 * p))
        cost = w.pick([8, 11, 12, 15, 18, 22, 27, 35])
        area = w.pick(["garden", "lawn", "vegetable plot", "courtyard", "pond", "play area", "flower bed"])
        q = F("A rectangular {=g} measures {=L} m by {=W} m. A path {=p} m wide runs all the way around it. "
              "What is the area of the path, and how much would [fencing|edging] the outer [edge|border] cost at ${=c} per metre?",
              g=area, L=L, W=W, p=f"{p:g}", c=cost)
        steps = [
            F("The outer rectangle measures {=a} m by {=b} m, so its area is {=o} m².", a=f"{L + 2 * p:g}", b=f"{W + 2 * p:g}", o=f"{outer:g}"),
            F("The {=g} itself covers {=L} × {=W} = {=A} m².", g=area, L=L, W=W, A=L * W),
            F("The path is the difference: {=o} − {=A} = {=P} m².", o=f"{outer:g}", A=L * W, P=f"{path:g}"),
            F("The outer perimeter is 2 × ({=a} + {=b}) = {=r} m, so the [fence|edging] costs {=r} × ${=c} = {=t}.", a=f"{L + 2 * p:g}", b=f"{W + 2 * p:g}", r=f"{per:g}", c=cost, t=money(per * cost)),
        ]
        ans = f"The path covers {path:g} m² and the fence costs {money(per * cost)}."
    elif kind == 4:
        a, b = w.rng.randint(2, 16), w.rng.randint(3, 20)
        t = a * b / (a + b)
        job = w.pick(LEX["chore"])
        q = F("{=n} can {=j} in {=a} hours, [and|while] {=m} [can do it|needs] {=b} hours. [How long will it take if they work together?|Working together, how long do they need?]",
              n=name, j=job, a=a, m=name2, b=b)
        steps = [
            F("{=n} does 1/{=a} of the job per hour and {=m} does 1/{=b} per hour.", n=name, a=a, m=name2, b=b),
            F("[Together they do|Their combined rate is] 1/{=a} + 1/{=b} = {=s}/{=p} of the job per hour.", a=a, b=b, s=a + b, p=a * b),
            F("So the time is {=p}/{=s} ≈ {=t} hours, [which is about|roughly] {=h} hours and {=m} minutes.", p=a * b, s=a + b, t=f"{t:.2f}", h=int(t), m=round((t - int(t)) * 60)),
        ]
        ans = f"Working together, they need about {t:.2f} hours."
    elif kind == 5:
        P_, r, n = w.rng.randrange(500, 40000, 50), w.pick([1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8]), w.rng.randint(2, 6)
        rows, bal = [], float(P_)
        for year in range(1, n + 1):
            bal *= 1 + r / 100
            rows.append(f"- {w.pick(['After year', 'End of year', 'Year'])} {year}: {money(bal)}")
        q = F("{=n} [deposits|invests|puts] {=p} in [an account|a savings account|a bond] paying {=r}% interest compounded yearly. How much will [be in the account|it be worth] after {=y} years?",
              n=name, p=money(P_), r=f"{r:g}", y=n)
        steps = [F("Use A = P(1 + r)^n with P = {=p}, r = {=r} and n = {=y}.", p=money(P_), r=f"{r / 100:g}", y=n),
                 w.pick(["Year by year:", "Growth each year:", "Tracking the balance:"]) + "\n" + "\n".join(rows),
                 F("So A = {=p} × {=g}^{=y} ≈ {=b}, of which {=i} is interest.", p=money(P_), g=f"{1 + r / 100:g}", y=n, b=money(bal), i=money(bal - P_))]
        ans = f"After {n} years the balance is about {money(bal)}."
    elif kind == 6:
        k = w.rng.randint(3, 6)
        scores = _nums(w, k, 50, 98)
        target = w.rng.randint(-(-(sum(scores) + 55) // (k + 1)), (sum(scores) + 100) // (k + 1))
        need = (k + 1) * target - sum(scores)
        subject = w.pick(LEX["subject"])
        q = F("{=n} scored {=s} on {=k} {=sub} [tests|quizzes|exams]. What score is needed on the next one for an average of {=t}?",
              n=name, s=", ".join(map(str, scores[:-1])) + f" and {scores[-1]}", k=k, sub=subject, t=target)
        steps = [F("An average of {=t} over {=k1} [tests|results] means a total of {=k1} × {=t} = {=tot}.", t=target, k1=k + 1, tot=(k + 1) * target),
                 F("The [first|existing] {=k} scores add up to {=e} = {=s}.", k=k, e=" + ".join(map(str, scores)), s=sum(scores)),
                 F("[The next score must be|So {=n} needs] {=tot} − {=s} = {=need}.", n=name, tot=(k + 1) * target, s=sum(scores), need=need)]
        ans = f"{name} needs {need} on the next test."
    elif kind == 7:
        ra, rb, rc = w.rng.randint(1, 9), w.rng.randint(1, 9), w.rng.randint(1, 9)
        unit = w.rng.randint(5, 90)
        total = unit * (ra + rb + rc)
        what = w.pick(["prize money", "profit from a bake sale", "tips", "cost of a holiday cottage", "winnings", "fee for a project"])
        q = F("{=a}, {=b} and {=c} share {=t} of {=w} in the ratio {=x}:{=y}:{=z}. How much does each person [receive|get]?",
              a=name, b=name2, c=name3, t=f"${total}", w=what, x=ra, y=rb, z=rc)
        steps = [F("The ratio has {=x} + {=y} + {=z} = {=s} parts.", x=ra, y=rb, z=rc, s=ra + rb + rc),
                 F("[One part is worth|Each part is] {=t} ÷ {=s} = {=u}.", t=f"${total}", s=ra + rb + rc, u=f"${unit}"),
                 F("So {=a} gets {=x} × {=u} = {=pa}, {=b} gets {=pb} and {=c} gets {=pc}.", a=name, x=ra, u=f"${unit}", pa=f"${ra * unit}", b=name2, pb=f"${rb * unit}", c=name3, pc=f"${rc * unit}"),
                 F("[Check|As a check]: {=pa} + {=pb} + {=pc} = {=t}.", pa=f"${ra * unit}", pb=f"${rb * unit}", pc=f"${rc * unit}", t=f"${total}")]
        ans = f"They receive ${ra * unit}, ${rb * unit} and ${rc * unit}."
    elif kind == 8:
        k, m = w.rng.randint(3, 7), w.rng.randint(5, 400)
        S = k * m + k * (k - 1) // 2
        q = F("The sum of {=k} consecutive whole numbers is {=s}. [What are the numbers?|Find them.|Which numbers are they?]", k=k, s=S)
        steps = [F("Call the smallest number n. The numbers are n, n + 1 and so on up to n + {=k}.", k=k - 1),
                 F("Their sum is {=k}n + {=c} = {=s}, so {=k}n = {=d} and n = {=m}.", k=k, c=k * (k - 1) // 2, s=S, d=S - k * (k - 1) // 2, m=m),
                 "The numbers are " + ", ".join(str(m + i) for i in range(k)) + "."]
        ans = f"The smallest number is {m} and the largest is {m + k - 1}."
    elif kind == 9:
        from fractions import Fraction
        c1, c2, c3 = w.rng.sample(LEX["colour"], 3)
        r_, b_, g_ = w.rng.randint(3, 15), w.rng.randint(2, 15), w.rng.randint(1, 12)
        n = r_ + b_ + g_
        obj, box = w.pick(LEX["counter_obj"]), w.pick(LEX["container"])
        p = Fraction(r_, n) * Fraction(r_ - 1, n - 1)
        q = F("A {=box} [holds|contains] {=r} {=c1} {=o}, {=b} {=c2} {=o} and {=g} {=c3} {=o}. {=n} [draws|takes out|picks] two {=o} without replacement. [What is the probability that both are {=c1}?|How likely is it that both are {=c1}?]",
              box=box, r=r_, c1=c1, o=obj, b=b_, c2=c2, g=g_, c3=c3, n=name)
        steps = [F("There are {=n} {=o} [in total|altogether], {=r} of them {=c}.", n=n, o=obj, r=r_, c=c1),
                 F("The first [draw|pick] is {=c} with probability {=r}/{=n}.", c=c1, r=r_, n=n),
                 F("[Given that|After that], {=r1} of the remaining {=n1} are {=c}, so the second is {=c} with probability {=r1}/{=n1}.", r1=r_ - 1, n1=n - 1, c=c1),
                 F("Multiply: {=r}/{=n} × {=r1}/{=n1} = {=a}/{=b} ≈ {=f}.", r=r_, n=n, r1=r_ - 1, n1=n - 1, a=p.numerator, b=p.denominator, f=f"{float(p):.3f}")]
        ans = f"The probability is {p.numerator}/{p.denominator}, about {float(p) * 100:.1f}%."
    elif kind == 10:
        serves, grams, want = w.rng.randint(2, 8), w.rng.randrange(50, 900, 25), w.rng.randint(3, 24)
        ing = w.pick(["flour", "rice", "lentils", "sugar", "oats", "butter", "cheese", "pasta", "chickpeas"])
        dish = w.pick(LEX["dish"])
        need = grams * want / serves
        q = F("A recipe for {=d} that serves {=s} uses {=g} g of {=i}. How much {=i} is needed to serve {=w} people?",
              d=dish, s=serves, g=grams, i=ing, w=want)
        steps = [F("[Per person|For one serving], the recipe uses {=g} ÷ {=s} = {=p} g.", g=grams, s=serves, p=f"{grams / serves:.2f}"),
                 F("[For {=w} people|Scaling up to {=w}]: {=p} × {=w} = {=n} g.", w=want, p=f"{grams / serves:.2f}", n=f"{need:.1f}"),
                 F("That is about {=k} kg, so [round up|buy a little extra] if the packet sizes do not match.", k=f"{need / 1000:.2f}")]
        ans = f"About {need:.0f} g of {ing} is needed."
    else:
        old, pct = w.rng.randint(1200, 95000), w.pick([-18, -12, -7, -4, 3, 6, 9, 14, 22, 35])
        new = round(old * (1 + pct / 100))
        change = (new - old) / old * 100
        place = w.pick(LEX["place"])
        what = w.pick(["population of a district of", "number of visitors to a museum in", "bus passengers per week in", "trees planted around"])
        q = F("The {=w} {=p} went from {=o} to {=n} in one year. What was the percentage change?", w=what, p=place, o=f"{old:,}", n=f"{new:,}")
        steps = [F("The change is {=n} − {=o} = {=d}.", n=f"{new:,}", o=f"{old:,}", d=f"{new - old:,}"),
                 F("Divide by the starting value: {=d} ÷ {=o} ≈ {=r}.", d=f"{new - old:,}", o=f"{old:,}", r=f"{change / 100:.4f}"),
                 F("Multiply by 100 to get [a percentage|percent]: about {=c}%.", c=f"{change:.2f}")]
        ans = f"The {'increase' if new >= old else 'decrease'} is about {abs(change):.2f}%."
    layout = w.rng.random()
    if layout < 0.4:
        body = "\n".join(f"{i + 1}. {s}" for i, s in enumerate(steps))
    elif layout < 0.7:
        body = "\n".join(f"**Step {i + 1}:** {s}" for i, s in enumerate(steps))
    else:
        body = "\n\n".join(steps)
    lead = w.fill(w.draw(["Let's work through it step by step.", "We can solve this in a few steps.", "Here is the reasoning.",
                          "Let's break the problem down.", "Let's organise the information first.", "Here is a worked solution.",
                          "Sure, let's solve it together.", "Start by writing down what we know."]) or "Next:")
    prefix = w.pick(["**Answer:** ", "Final answer: ", "So the answer is: ", "Therefore, "])
    lower = prefix in ("So the answer is: ", "Therefore, ") and ans.startswith(("The ", "They ", "Working ", "After ", "About "))
    final = prefix + (ans[0].lower() + ans[1:] if lower else ans)
    return q, f"{lead}\n\n{body}\n\n{final}"


def math_exchanges(w: Writer, n_ex: int, size: float) -> list[tuple[str, str]]:
    out = []
    for i, kind in enumerate(w.rng.sample(range(N_MATH_KINDS), n_ex)):
        q, a = math_problem(w, kind)
        if i > 0:
            q = w.pick(["Great, now try this one: ", "Thanks! Here is another: ", "Next problem: "]) + q
        out.append((q, a))
    return out


# ----------------------------------------------------------------------------------------------------
# Measurements: the shingling of curation/minhash/shingles.py, normalization, and the default filters.
# ----------------------------------------------------------------------------------------------------

TOKEN_RE = re.compile(r"\w+")


def token_text(text: str) -> str:
    return " ".join(TOKEN_RE.findall(text.lower()))


def shingle_set(text: str, ngram: int = 5) -> set[str]:
    """Word n-gram shingles exactly as curation.minhash.shingles.shingles(text, "word", ngram) (as str)."""
    canon = token_text(text)
    if not canon:
        return set()
    tokens = canon.split(" ")
    if len(tokens) <= ngram:
        return {canon}
    return {" ".join(tokens[i : i + ngram]) for i in range(len(tokens) - ngram + 1)}


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def conversation_text(turns: list[dict]) -> str:
    return "\n".join(t["value"] for t in turns)


def human_text(turns: list[dict], first_only: bool = False) -> str:
    values = [t["value"] for t in turns if t["from"] == "human"]
    return values[0] if first_only else "\n".join(values)


_INNER_SPACE_RE = re.compile(r"(?<=\S)[ \t]{2,}|(?<=\S)\t")


def normalize_value(value: str) -> str:
    """What the normalize stage does to a turn (NFC, inner space runs, blank-line runs, strip)."""
    value = unicodedata.normalize("NFC", value)
    value = "\n".join(_INNER_SPACE_RE.sub(" ", line) for line in value.split("\n"))
    value = re.sub(r"\n{4,}", "\n\n\n", value)
    return value.strip()


def normalized_key(row: dict) -> str:
    return json.dumps([[t["from"], normalize_value(t["value"])] for t in row["conversations"]], ensure_ascii=False)


_HASH_BASE = np.uint64(1_000_003)


def _ngram_measures(toks: list[str], n_chars: int) -> tuple[float, float]:
    """(top n-gram, duplicated n-gram) as fractions of their thresholds, datatrove's definitions.

    n-grams are compared through 64-bit polynomial hashes of token ids (numpy), so a collision could only
    ever overstate repetition.
    """
    index: dict[str, int] = {}
    ids = np.fromiter((index.setdefault(t, len(index)) for t in toks), dtype=np.uint64, count=len(toks))
    pre = np.concatenate(([0], np.cumsum(np.fromiter(map(len, toks), dtype=np.int64, count=len(toks)))))
    top = dup = 0.0
    h = ids.copy()
    with np.errstate(over="ignore"):
        for n in range(2, max(DUP_NGRAM_MAX_FRACTION) + 1):
            if len(toks) < n:
                break
            h = h[:-1] * _HASH_BASE + ids[n - 1 :]
            uniq, first, inverse, counts = np.unique(h, return_index=True, return_inverse=True, return_counts=True)
            if n in TOP_NGRAM_MAX_FRACTION:
                # among equally frequent n-grams the first seen wins, as with Counter.most_common
                start = int(first[counts == counts.max()].min())
                chars = int(pre[start + n] - pre[start]) + n - 1
                top = max(top, chars * int(counts.max()) / n_chars / TOP_NGRAM_MAX_FRACTION[n])
            if n in DUP_NGRAM_MAX_FRACTION:
                if len(uniq) == len(h):
                    break  # no repeated n-gram, so no repeated longer one either
                repeats = np.flatnonzero(first[inverse] != np.arange(len(h)))
                # datatrove skips n tokens after each repeat; walking the repeat positions gives that sum
                # (up to grams first seen inside a skipped stretch, counted here too: an upper bound).
                total, next_free = 0, 0
                for i in repeats.tolist():
                    if i >= next_free:
                        total += int(pre[i + n] - pre[i]) + n - 1
                        next_free = i + n
                dup = max(dup, total / n_chars / DUP_NGRAM_MAX_FRACTION[n])
    return top, dup


def _quick_ngram_measures(toks: list[str], n_chars: int) -> tuple[float, float]:
    """:func:`_ngram_measures` through C-level counting; the slower path only when a 5-gram repeats."""
    if len(toks) < 5 or len(set(zip(*(toks[j:] for j in range(5))))) < len(toks) - 4:
        return _ngram_measures(toks, n_chars)
    top = 0.0
    for n, limit in TOP_NGRAM_MAX_FRACTION.items():
        gram, count = Counter(zip(*(toks[j:] for j in range(n)))).most_common(1)[0]  # first seen wins ties
        top = max(top, (sum(map(len, gram)) + n - 1) * count / n_chars / limit)
    return top, 0.0


def gopher_repetition(text: str, exact: bool = False) -> dict[str, float]:
    """The Gopher repetition measurements as fractions of the default thresholds.

    Both tokenizations (whitespace and ``\\w+``) are measured and the maximum kept. ``exact=False`` (used
    while generating) takes a quicker path that gives the same numbers.
    """
    text = text.strip()
    out = {"line_frac": 0.0, "line_char_frac": 0.0, "top_ngram": 0.0, "dup_ngram": 0.0}
    if not text or len(text.split()) < MIN_WORDS_FOR_REPETITION:
        return out
    n_chars = len(text)
    lines = re.split(r"\n+", text)
    seen: set[str] = set()
    dup_lines = dup_line_chars = 0
    for line in lines:
        if line in seen:
            dup_lines += 1
            dup_line_chars += len(line)
        else:
            seen.add(line)
    out["line_frac"] = dup_lines / len(lines) / MAX_REPEATED_LINE_FRACTION
    out["line_char_frac"] = dup_line_chars / n_chars / MAX_REPEATED_LINE_CHAR_FRACTION
    for toks in (text.split(), TOKEN_RE.findall(text)):
        top, dup = _ngram_measures(toks, n_chars) if exact else _quick_ngram_measures(toks, n_chars)
        out["top_ngram"] = max(out["top_ngram"], top)
        out["dup_ngram"] = max(out["dup_ngram"], dup)
    return out


def filter_measures(turns: list[dict], exact: bool = False) -> dict[str, float]:
    """Each default filter as a ratio to its threshold: > 1 fails, <= 1 passes (alternation: 0 or 2)."""
    gpt = [t["value"].strip() for t in turns if t["from"] == "gpt"]
    human = [t["value"].strip() for t in turns if t["from"] == "human"]
    values = [t["value"].strip() for t in turns]
    m: dict[str, float] = {}
    # answer_too_short: the shortest answer, as threshold / length (so that > 1 means too short)
    m["answer_too_short"] = max(
        max(MIN_ANSWER_CHARS / max(len(g), 1e-9) for g in gpt),
        max(MIN_ANSWER_WORDS / max(len(g.split()), 1e-9) for g in gpt),
    ) if gpt else 99.0
    m["answer_too_short"] = m["answer_too_short"] * (1 + 1e-9) if m["answer_too_short"] > 1 else m["answer_too_short"]
    m["turn_too_long"] = max(len(v) for v in values) / MAX_CHARS_PER_TURN
    m["turn_too_many_words"] = max(max(len(v.split()), len(TOKEN_RE.findall(v))) for v in values) / MAX_WORDS_PER_TURN
    m["turn_empty"] = 2.0 if any(not v for v in values) else 0.0
    m["prompt_answer_ratio"] = (sum(map(len, human)) / max(sum(map(len, gpt)), 1)) / MAX_PROMPT_ANSWER_RATIO
    roles = [t["from"] for t in turns]
    while roles and roles[0] == "system":
        roles = roles[1:]
    expected = ["human" if i % 2 == 0 else "gpt" for i in range(len(roles))]
    m["roles_not_alternating"] = 0.0 if roles == expected and roles and roles[-1] == "gpt" else 2.0
    rep = {"line_frac": 0.0, "line_char_frac": 0.0, "top_ngram": 0.0, "dup_ngram": 0.0}
    for text in [conversation_text(turns), *gpt]:
        for k, v in gopher_repetition(text, exact).items():
            rep[k] = max(rep[k], v)
    m["repeated_lines"] = max(rep["line_frac"], rep["line_char_frac"])
    m["repeated_ngrams"] = max(rep["top_ngram"], rep["dup_ngram"])
    return m


FILTER_KEYS = {
    "filter:answer_too_short": "answer_too_short",
    "filter:turn_too_long": "turn_too_long",
    "filter:prompt_answer_ratio": "prompt_answer_ratio",
    "filter:roles_not_alternating": "roles_not_alternating",
    "filter:repeated_lines": "repeated_lines",
    "filter:repeated_ngrams": "repeated_ngrams",
}
# How far past its threshold a planted row must be on the filter it targets.
FAIL_MARGIN = {"answer_too_short": 1.5, "turn_too_long": 1.012, "prompt_answer_ratio": 1.25, "roles_not_alternating": 1.5,
               "repeated_lines": 1.3, "repeated_ngrams": 1.5}


def is_normalized(row: dict) -> bool:
    return all(normalize_value(t["value"]) == t["value"] for t in row["conversations"])


def passes_all(m: dict[str, float], margin: float, except_key: str | None = None) -> bool:
    return all(v <= margin for k, v in m.items() if k != except_key)


# ----------------------------------------------------------------------------------------------------
# Rows
# ----------------------------------------------------------------------------------------------------

SOURCE_TOPICS: dict[str, list[tuple[str, int]]] = {
    "infini-instruct-top-500k": [("science", 25), ("coding", 25), ("math", 10), ("history", 15), ("advice", 15), ("food_travel", 10)],
    "WebInstructSub_axolotl": [("science", 55), ("math", 45)],
    "The-Tome": [("science", 30), ("math", 20), ("history", 20), ("coding", 15), ("advice", 15)],
    "evol-instruct": [("coding", 80), ("math", 10), ("science", 10)],
    "airoboros": [("story", 35), ("advice", 25), ("food_travel", 25), ("history", 15)],
    "financial-instructions-cleaned-2": [("finance", 1)],
}
TOPICS = {
    "science": science_exchanges, "history": history_exchanges, "advice": advice_exchanges, "finance": finance_exchanges,
    "food_travel": food_travel_exchanges, "story": story_exchanges, "coding": coding_exchanges, "math": math_exchanges,
}
SYSTEM_SHARE = {"infini-instruct-top-500k": 0.2, "airoboros": 0.45, "The-Tome": 0.1, "evol-instruct": 0.15,
                "WebInstructSub_axolotl": 0.03, "financial-instructions-cleaned-2": 0.3}


def f32(x: float) -> float:
    """Round to float32 and back, like the scores FineTome stores."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def good_score(w: Writer) -> float:
    return f32(min(5.25, max(3.05, w.rng.gauss(4.25, 0.45))))


def make_row(turns: list[dict], source: str, score: float) -> dict:
    return {"conversations": turns, "source": source, "score": score, "lang": "en"}


def pick_weighted(w: Writer, pairs: list[tuple[str, int]]) -> str:
    return w.rng.choices([p for p, _ in pairs], weights=[k for _, k in pairs])[0]


# Openings and closings around a first question, so that two rows rarely share the same first human turn.
PROMPT_PREFIXES = [
    "Hi! ", "Hello. ", "Quick question: ", "I have a question about this. ", "My friend {name} asked me this and I had no answer. ",
    "I'm helping {name} with homework. ", "This came up at work today. ", "Here is something I've wondered about for a while. ",
    "I'm a {learner} and this confuses me. ", "For a {field_of_study} assignment: ", "Sorry if this is basic. ",
    "{name} and I were arguing about this. ", "Can you help me? ", "I need some help. ", "Good morning! ",
]
PROMPT_SUFFIXES = [
    " Thanks!", " Thank you in advance.", " Please keep it under [three|four|five] paragraphs.", " Keep it simple, please.",
    " I'd appreciate a clear answer.", " Please answer in plain English.", " Use an example if you can.",
    " I'm asking for {name}.", " It's for a [project|class|report|presentation|blog post|workshop|study group] I'm working on.", " A short answer is fine.", " Be as specific as you can.",
    " Please explain your reasoning.", " I'll share it with {name} later.", " Thanks, {name} says hi.",
]


def decorate_prompt(w: Writer, prompt: str) -> str:
    """``prompt`` with an opening (30%), a closing (30%), both (25%) or neither (15%)."""
    roll = w.rng.random()
    if roll >= 0.15 and (roll < 0.45 or roll >= 0.75):
        prompt = w.fill(w.pick(PROMPT_PREFIXES)) + " " + prompt
    if roll >= 0.45:
        prompt = prompt + " " + w.fill(w.pick(PROMPT_SUFFIXES))
    return prompt


def conversation(w: Writer, source: str, topic: str | None = None, n_ex: int | None = None, size: float | None = None,
                 system: bool | None = None) -> list[dict]:
    """The turns of one conversation; the long tail (7%) is a longer chat that moves across topics."""
    w.new_row()
    tail = size is None and w.rng.random() < 0.05
    topic = topic or pick_weighted(w, SOURCE_TOPICS[source])
    if n_ex is None:
        n_ex = w.rng.randint(2, 3) if tail else w.rng.choices([1, 2, 3], weights=[72, 21, 7])[0]
    if size is None:
        size = w.rng.uniform(2.0, 3.5) if tail else 1.0
    turns: list[dict] = []
    if system if system is not None else w.rng.random() < SYSTEM_SHARE[source]:
        turns.append({"from": "system", "value": w.pick(SYSTEM_PROMPTS)})
    if tail:
        topics = [topic] + [t for t in w.rng.sample(sorted(TOPICS), len(TOPICS)) if t != topic][: n_ex - 1]
        exchanges = [TOPICS[t](w, 1, size)[0] for t in topics]
        exchanges = [exchanges[0]] + [(w.pick(["Thanks! A different question: ", "Great. Unrelated, but ", "Thank you. Next: ",
                                                "Switching topics: "]) + h[0].lower() + h[1:] if not h.startswith(("I ", "I'm", "I'")) else
                                       "Thanks! Another question. " + h, g) for h, g in exchanges[1:]]
    else:
        exchanges = TOPICS[topic](w, n_ex, size)
    for k, (human, gpt) in enumerate(exchanges):
        turns += [{"from": "human", "value": decorate_prompt(w, human) if k == 0 else human}, {"from": "gpt", "value": gpt}]
    return turns


def clean_row(w: Writer, source: str, score: float | None = None, **kw) -> dict:
    """A row every default stage keeps, with margin to every filter threshold."""
    while True:
        row = make_row(conversation(w, source, **kw), source, good_score(w) if score is None else score)
        if is_normalized(row) and passes_all(filter_measures(row["conversations"]), CLEAN_MARGIN):
            return row


# ---- rows each filter must drop -----------------------------------------------------------------

SHORT_PROMPTS = [
    "Is {place} worth a visit in {season} for {name}?",
    "Did {name} like the {dish} that {name2} cooked?",
    "Can {sci_thing} {sci_action} near {sci_place}?",
    "Should {name} {tip_verb} {tip_object}?",
    "Does {name} still study {field_of_study} with {name2}?",
    "Was {name} {feeling} after the {noun} in {place}?",
]
SHORT_ANSWERS = ["I do.", "It is", "No, 3", "Yes 4", "So so", "Go on", "At 9", "Oh no", "By 6", "Ok, 5", "We do", "Not 2", "Up 7", "Me too"]
REPEATED_LINES = ["Please wait.", "(continued)", "Loading...", "See above.", "[no output]", "Okay.", "Next.", "Thinking...",
                  "Retrying.", "Hmm.", "Right.", "(pause)"]
PHRASE_TEMPLATES = [
    "and the {adj} {noun} keeps coming back",
    "the {noun} of the {noun2} is {adj}",
    "{name} said the {noun} was {adj} again",
    "then {sci_thing} {sci_action} once more",
    "we {tip_verb} {tip_object} and",
]
PROSE_TOPICS = ["science", "history", "advice", "food_travel", "story"]
GUIDE_PROMPTS = [
    "Write a comprehensive, detailed guide to {=subject} that covers the science, the history, practical tips and common questions. Be as thorough as possible.",
    "I need an exhaustive handbook about {=subject} for a community course. Cover every angle in depth, with sections and examples.",
]


# Free sentence frames for the over-long turns: short fixed parts between slots drawn from large word
# lists, so that 5,000+ words of it still pass the repetition filters.
LEX.update(
    {
        "pl": sorted({*LEX["sci_thing"], *LEX["hist_group"], *LEX["artifact"], *(p for _, p in CODE_NOUNS),
                      *(p for _, p in MATH_ITEMS)}),
        "sg": sorted({*LEX["noun"], *LEX["quantity"], *LEX["field_of_study"], *LEX["instrument"], *CODE_ATTRS, *CODE_KEYS}),
        "where": sorted({*LEX["place"], *LEX["region"], *LEX["sci_place"], *LEX["nature_place"]}),
        "when": sorted({*("in " + c for c in LEX["century"]), *("in " + c for c in LEX["season"]), "every autumn", "most mornings",
                        "each decade", "after midnight", "before the harvest", "during long winters", "in recent decades",
                        "within a generation"}),
        "tverb": words(
            """shape | influence | support | replace | protect | measure | reveal | resemble | reduce | strengthen |
            weaken | organise | surround | outlast | transform | follow | challenge | complicate | explain | mirror |
            accompany | feed | shelter | threaten | attract | divide | connect | document | predict | limit | outnumber |
            absorb | reflect | anticipate | imitate | overshadow | encourage | discourage | sustain | disturb"""
        ),
    }
)
FREE_FRAMES = [
    "{adj} {pl} {adverb} {tverb} {pl2} near {where}.",
    "Near {where}, {pl} {tverb} {adj} {pl2} {when}.",
    "{when}, {adj} {pl} {tverb} the {sg} of {pl2}.",
    "Whether {pl} {tverb} {pl2} depends on the {adj} {sg} and the {sg2}.",
    "{pl} rarely {tverb} {pl2}; {adj} {pl3} {adverb} do.",
    "The {adj} {sg} behind {pl} {adverb} explains the {sg2}.",
    "Without the {adj} {sg}, {pl} {tverb} {pl2} {adverb}.",
    "Some {pl} {tverb} {adj} {pl2}, while {pl3} {tverb2} the {sg}.",
    "Compare {adj} {pl} in {where} with {pl2} in {where2}.",
    "The {sg} and the {sg2} {adverb} {tverb} {adj} {pl}.",
    "Observers in {where} noticed {adj} {pl} {when}.",
    "Because {pl} {tverb} the {sg}, {adj} {pl2} {adverb} {tverb2} {pl3}.",
    "A {adj} {sg}, a {adj2} {sg2} and a {adj3} {sg3} {tverb} {pl}.",
    "Both {pl} and {pl2} {tverb} the {adj} {sg} {when}.",
    "Few {pl} {tverb} {pl2} as {adverb} as {adj} {pl3}.",
    "Ask how {pl} {tverb} the {sg}, and why {pl2} {tverb2} a {adj} {sg2}.",
    "Over time, {pl} near {where} {tverb} the {adj} {sg}.",
    "Records of {pl} from {where} {tverb} {adj} {pl2}.",
]


def free_text(w: Writer, n_chars: int) -> str:
    """Sections of free-frame paragraphs, about ``n_chars`` long."""
    sections: list[str] = []
    total, k = 0, 0
    while total < n_chars:
        k += 1
        paras = []
        for _ in range(w.rng.randint(2, 4)):
            paras.append(" ".join(w.fill(w.pick(FREE_FRAMES)) for _ in range(w.rng.randint(4, 7))))
        sec = f"## Part {k}: {cap(w.pick(LEX['sg']))} and {w.pick(LEX['pl'])}\n\n" + "\n\n".join(paras)
        sections.append(sec)
        total += len(sec) + 2
    return "\n\n".join(sections)


def filter_row(w: Writer, reason: str, source: str) -> dict:
    """A row that fails exactly the filter ``reason`` (checked, with margin, against every default filter)."""
    key = FILTER_KEYS[reason]
    while True:
        turns: list[dict]
        if reason == "filter:answer_too_short":
            answer = w.pick(SHORT_ANSWERS)
            turns = [{"from": "human", "value": w.fill(w.pick(SHORT_PROMPTS))}, {"from": "gpt", "value": answer}]
            if not 1 <= len(answer) <= 5:
                continue
        elif reason in ("filter:repeated_lines", "filter:repeated_ngrams"):
            turns = conversation(w, source, topic=w.pick(PROSE_TOPICS), n_ex=1, size=2.5, system=False)
            answer_sentences = [x for x in re.split(r"(?<=[.!?])\s+", turns[-1]["value"])
                                if len(x.split()) >= 6 and x[0].isupper() and x[-1] in ".!?"]
            if reason == "filter:repeated_lines":
                if len(answer_sentences) < 10:
                    continue
                filler = w.pick(REPEATED_LINES)
                lines: list[str] = []
                for sentence in answer_sentences[: w.rng.randint(10, 16)]:
                    lines += [sentence, filler]
                turns[-1]["value"] = "\n".join(lines)
            else:
                phrase = w.fill(w.pick(PHRASE_TEMPLATES)).rstrip(".")
                phrase = phrase[0].lower() + phrase[1:]
                repeated = cap(" ".join([phrase] * w.rng.randint(18, 34))) + "."
                turns[-1]["value"] = " ".join(answer_sentences[: w.rng.randint(1, 3)]) + "\n\n" + repeated
        elif reason == "filter:prompt_answer_ratio":
            topic = w.pick(PROSE_TOPICS)
            passage_turns = conversation(w, source, topic=topic, n_ex=1, size=w.rng.uniform(1.8, 3.0), system=False)
            passage = passage_turns[-1]["value"]
            ask = w.pick(["Here are my notes from class:", "Please read this passage:", "Below is an article I found:",
                          "Here is a draft I wrote:"])
            question = w.pick(["What is the main point, in one sentence?", "Give me a one-line summary.",
                               "Summarize this in a single short sentence.", "What is the title you would give this?"])
            answer = w.fill(w.pick([
                "The passage is mainly about how {hist_factor} shaped {hist_group}.",
                "It explains why {sci_thing} {sci_action} under {sci_driver}.",
                "The main point is that {reason}.",
                "A fitting title would be \"{adj} {noun}s and {noun2}s\".",
                "It argues that {sci_thing} {sci_action} when conditions change.",
            ]))
            turns = [{"from": "human", "value": f"{ask}\n\n{passage}\n\n{question}"}, {"from": "gpt", "value": answer}]
        elif reason == "filter:roles_not_alternating":
            turns = conversation(w, source, n_ex=w.rng.choice([1, 1, 2]), size=1.0)
            human_idx = [i for i, t in enumerate(turns) if t["from"] == "human"]
            at = w.pick(human_idx)
            extra = w.fill(w.pick(["Also, please keep it short.", "Sorry, one more thing: can you add an example about {noun}s?",
                                   "Actually, I meant to ask about {field_of_study} too.", "And please mention {place} if relevant.",
                                   "Oh, and {name} asked me to check something about {noun}s as well."]))
            turns.insert(at + 1, {"from": "human", "value": extra})
        elif reason == "filter:turn_too_long":
            subject = w.pick([w.pick(SCIENCE_CONCEPTS)[0], w.pick(HISTORY_EVENTS), "learning to " + w.pick(LEX["goal"])])
            target = w.rng.randint(32_500, 33_500)
            body = free_text(w, target + 400)
            cut = body.rfind(". ", 0, target)
            turns = [{"from": "human", "value": w.fill(w.pick(GUIDE_PROMPTS), {"subject": subject})},
                     {"from": "gpt", "value": body[: cut + 1]}]
        else:
            raise ValueError(reason)
        row = make_row(turns, source, good_score(w))
        m = filter_measures(turns)
        if is_normalized(row) and m[key] >= FAIL_MARGIN[key] and passes_all(m, 0.9 if key == "turn_too_long" else CLEAN_MARGIN, key):
            return row


# ---- malformed lines ----------------------------------------------------------------------------


def malformed_line(w: Writer, kind: str, source: str) -> str:
    base = clean_row(w, source, n_ex=1, size=0.6)
    turns = base["conversations"]
    row: dict | list | str
    if kind == "missing_conversations":
        row = {w.pick(["conversation", "messages", "turns", "dialogue"]): turns, "source": source, "score": base["score"], "lang": "en"}
    elif kind == "conversations_not_list":
        value = w.pick(["string", "dict"])
        conv = "\n".join(f"{t['from']}: {t['value']}" for t in turns) if value == "string" else turns[-1]
        row = make_row(conv, source, base["score"])  # type: ignore[arg-type]
    elif kind == "empty_conversations":
        row = make_row([], source, base["score"])
    elif kind == "turn_missing_value":
        i = w.rng.randrange(len(turns))
        turns[i] = {"from": turns[i]["from"], **({"text": turns[i]["value"]} if w.rng.random() < 0.5 else {})}
        row = base
    elif kind == "unknown_role":
        turns[w.rng.randrange(len(turns))]["from"] = "robot"
        row = base
    elif kind == "value_not_string":
        i = w.rng.randrange(len(turns))
        turns[i]["value"] = w.pick([None, 42, 3.5, None, 0])
        row = base
    elif kind == "no_gpt_turn":
        row = make_row([t for t in turns if t["from"] != "gpt"], source, base["score"])
    elif kind == "invalid_json":
        if w.rng.random() < 0.5:
            full = json.dumps(base, ensure_ascii=False)
            return full[: w.rng.randint(20, len(full) - 10)]
        # (the template engine leaves braces and brackets that are not slots or alternations alone)
        return w.fill(w.pick([
            "<<<<<<< HEAD (merged {noun} rows from {name})", "Traceback (most recent call last): {noun} export failed at row {=n}",
            "conversations: human asked about {noun}s and gpt answered", "{'conversations': [{'from': 'human', 'value': '{noun}'}]}",
            "# exported by an old script on day {=n}, do not edit", '{"conversations": [{"from": "human", "value": "{noun} {=n}',
        ]), {"n": w.rng.randint(2, 9999)})
    else:
        raise ValueError(kind)
    return json.dumps(row, ensure_ascii=False)


# ---- exact and near copies ----------------------------------------------------------------------

def has_decomposable(row: dict) -> bool:
    text = conversation_text(row["conversations"])
    return unicodedata.normalize("NFD", text) != text


def prose_line_spans(value: str) -> list[tuple[int, int]]:
    """(start, end) of lines outside code fences that are plain prose (no leading space, >= 6 words)."""
    spans, pos, in_code = [], 0, False
    for line in value.split("\n"):
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line and not line[0].isspace() and len(line.split()) >= 6:
            spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def exact_variant(w: Writer, row: dict, kind: str) -> dict:
    """A copy equal to ``row`` after normalization: byte-identical, whitespace, NFD, or both."""
    copy = json.loads(json.dumps(row))
    turns = copy["conversations"]
    if kind in ("nfd", "nfd+space"):
        for t in turns:
            t["value"] = unicodedata.normalize("NFD", t["value"])
    if kind in ("space", "nfd+space"):
        for t in w.rng.sample(turns, k=w.rng.randint(1, len(turns))):
            v = t["value"]
            op = w.rng.randrange(4)
            spans = prose_line_spans(v)
            if op == 0 or not spans:
                v = v + w.pick(["\n", " ", "\n\n", "  \n", "\t"])
            elif op == 1:
                v = w.pick([" ", "\n", "  "]) + v
            else:
                for _ in range(w.rng.randint(1, 3)):
                    spans = prose_line_spans(v)
                    s, e = w.pick(spans)
                    gaps = [m.start() for m in re.finditer(r"(?<=\S) (?=\S)", v[s:e])]
                    if gaps:
                        g = s + w.pick(gaps)
                        v = v[:g] + w.pick(["  ", "   ", " \t"]) + v[g + 1 :]
                if op == 3:
                    v = v + "\n"
            t["value"] = v
    return copy


SYNONYMS = {
    "usually": "often", "often": "frequently", "quickly": "rapidly", "simple": "easy", "small": "little", "large": "big",
    "important": "key", "begin": "start", "helps": "assists", "careful": "cautious", "common": "frequent", "slowly": "gradually",
    "mostly": "largely", "because": "since", "clear": "plain", "useful": "helpful", "rarely": "seldom", "nearly": "almost",
    "first": "initially", "changes": "shifts", "shows": "reveals", "simply": "just", "check": "verify", "strong": "powerful",
    "easier": "simpler", "many": "numerous", "rises": "climbs", "falls": "drops", "quiet": "calm",
    "keep": "retain", "find": "discover", "happens": "occurs", "slow": "gradual", "value": "amount",
}
FILLERS = ["also", "really", "often", "simply", "generally", "actually", "just", "certainly", "clearly", "usually"]
DELETABLE = {"very", "also", "just", "really", "usually", "often", "simply", "quite", "the", "a", "some", "that", "much"}


def _word_edit(w: Writer, v: str) -> str:
    spans = prose_line_spans(v)
    if not spans:
        return v
    s, e = w.pick(spans)
    line = v[s:e]
    words_ = list(re.finditer(r"[A-Za-z]+", line))
    op = w.rng.randrange(3)
    if op == 0:
        cands = [m for m in words_ if m.group().lower() in SYNONYMS]
        if cands:
            m = w.pick(cands)
            rep = SYNONYMS[m.group().lower()]
            rep = rep.capitalize() if m.group()[0].isupper() else rep
        else:
            long_ = [m for m in words_ if len(m.group()) >= 6]
            if not long_:
                return v
            m = w.pick(long_)
            word = m.group()
            i = w.rng.randint(1, len(word) - 3)
            rep = word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # a typo: two letters swapped
            if rep == word:
                return v
        line = line[: m.start()] + rep + line[m.end() :]
    elif op == 1:
        inner = [m for m in words_[1:] if m.start() > 0 and line[m.start() - 1] == " " and m.group().islower()]
        if not inner:
            return v
        m = w.pick(inner)
        line = line[: m.start()] + w.pick(FILLERS) + " " + line[m.start() :]
    else:
        cands = [m for m in words_[1:] if m.group().lower() in DELETABLE and line[m.end() : m.end() + 1] == " "]
        if not cands:
            return v
        m = w.pick(cands)
        line = line[: m.start()] + line[m.end() + 1 :]
    return v[:s] + line + v[e:]


def _surface_edit(w: Writer, v: str) -> str:
    """Punctuation or casing: leaves the \\w+ tokens (lower-cased) unchanged."""
    spans = prose_line_spans(v)
    if not spans:
        return v
    s, e = w.pick(spans)
    line = v[s:e]
    op = w.rng.randrange(4)
    if op == 0 and ", " in line:
        i = w.pick([m.start() for m in re.finditer(", ", line)])
        line = line[:i] + w.pick([";", " -", ""]) + line[i + 1 :]
    elif op == 1 and line.endswith("."):
        line = line[:-1] + w.pick(["!", ";", ""])
    elif op == 2 and line[:1].isupper():
        line = line[:1].lower() + line[1:]
    else:
        words_ = [m for m in re.finditer(r"\b[a-z]{4,}\b", line)]
        if not words_:
            return v
        m = w.pick(words_)
        line = line[: m.start()] + w.pick([m.group().capitalize(), m.group().upper()]) + line[m.end() :]
    return v[:s] + line + v[e:]


def near_copy(w: Writer, row: dict, others: list[dict]) -> tuple[dict, float]:
    """An edited copy with word-5-gram Jaccard >= NEAR_TARGET_JACCARD on every text key."""
    orig_text = conversation_text(row["conversations"])
    orig_sh = shingle_set(orig_text)
    orig_first, orig_all = human_text(row["conversations"], True), human_text(row["conversations"])
    taken = {token_text(conversation_text(r["conversations"])) for r in [row, *others]}
    for attempt in range(60):
        copy = json.loads(json.dumps(row))
        turns = copy["conversations"]
        gpt_idx = [i for i, t in enumerate(turns) if t["from"] == "gpt"]
        n_word = max(1, w.rng.randint(1, 3) - attempt // 20)
        for _ in range(n_word):
            i = w.pick(gpt_idx)
            turns[i]["value"] = _word_edit(w, turns[i]["value"])
        for _ in range(w.rng.randint(0, 2)):
            i = w.rng.randrange(len(turns))
            turns[i]["value"] = _surface_edit(w, turns[i]["value"])
        text = conversation_text(turns)
        if token_text(text) in taken or not is_normalized(copy):  # every member differs in its words
            continue
        j = jaccard(orig_sh, shingle_set(text))
        j_first = jaccard(shingle_set(orig_first), shingle_set(human_text(turns, True)))
        j_all = jaccard(shingle_set(orig_all), shingle_set(human_text(turns)))
        if min(j, j_first, j_all) >= NEAR_TARGET_JACCARD and passes_all(filter_measures(turns), CLEAN_MARGIN):
            copy["score"] = row["score"] if w.rng.random() < 0.5 else good_score(w)
            return copy, j
    raise RuntimeError("could not make a near-duplicate copy above the target Jaccard")


# ----------------------------------------------------------------------------------------------------
# Assembly
# ----------------------------------------------------------------------------------------------------


@dataclass
class Item:
    line: str
    row: dict | None  # None for malformed lines
    group: tuple[str, int] | None = None  # ("exact"|"near", group number)
    original: bool = False
    reason: str | None = None  # filter reason, "low_score", or "malformed:<kind>"


@dataclass
class Sample:
    jsonl: bytes
    truth: bytes
    stats: dict = field(default_factory=dict)


def dump(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False)


def truth_json(truth: dict) -> str:
    """The truth as JSON with one group, reason or count per line (readable in a diff)."""
    parts = []
    for key, value in truth.items():
        if isinstance(value, list) and value and isinstance(value[0], list):
            body = "[\n" + ",\n".join("  " + json.dumps(v) for v in value) + "\n ]"
        elif isinstance(value, dict):
            body = "{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in value.items()) + "\n }"
        else:
            body = json.dumps(value)
        parts.append(f" {json.dumps(key)}: {body}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def generate(seed: int = SEED, verify_truth: bool = True) -> Sample:
    """Build the sample in memory; ``verify_truth`` runs the (slower) checks of :func:`verify` as well."""
    w = Writer(random.Random(seed))
    sources = list(CLEAN_PER_SOURCE)
    weights = list(CLEAN_PER_SOURCE.values())

    first_questions: set[str] = set()

    def fresh(make) -> dict:
        """A row from ``make()`` whose first human turn no earlier row has (so no prompt-only duplicates)."""
        while True:
            row = make()
            first = next(t["value"] for t in row["conversations"] if t["from"] == "human")
            if first not in first_questions:
                first_questions.add(first)
                return row

    clean: list[dict] = []
    for source, n in CLEAN_PER_SOURCE.items():
        clean += [fresh(lambda: clean_row(w, source)) for _ in range(n)]
    w.rng.shuffle(clean)

    # Originals: near groups need long rows; some exact groups need accented text (for the NFD copies).
    pool = list(range(len(clean)))
    long_ones = [i for i in pool if len(token_text(conversation_text(clean[i]["conversations"])).split()) >= 220]
    near_orig = w.rng.sample(long_ones, NEAR_GROUPS)
    rest = [i for i in pool if i not in set(near_orig)]
    accented = [i for i in rest if has_decomposable(clean[i])]
    exact_nfd = w.rng.sample(accented, min(len(accented), EXACT_GROUPS // 3))
    exact_other = w.rng.sample([i for i in rest if i not in set(exact_nfd)], EXACT_GROUPS - len(exact_nfd))

    items: list[Item] = []
    used = set(near_orig) | set(exact_nfd) | set(exact_other)
    items += [Item(dump(clean[i]), clean[i]) for i in range(len(clean)) if i not in used]

    near_j: list[float] = []
    for g, i in enumerate(near_orig):
        orig = clean[i]
        members = [Item(dump(orig), orig, ("near", g), True)]
        copies: list[dict] = []
        for _ in range(w.rng.choices([1, 2, 3], weights=[55, 30, 15])[0]):
            c, j = near_copy(w, orig, copies)
            copies.append(c)
            near_j.append(j)
            members.append(Item(dump(c), c, ("near", g)))
        items += members

    exact_kinds: Counter = Counter()
    for g, i in enumerate(exact_nfd + exact_other):
        orig = clean[i]
        items.append(Item(dump(orig), orig, ("exact", g), True))
        lines = {dump(orig)}
        for _ in range(w.rng.choices([1, 2, 3], weights=[60, 30, 10])[0]):
            choices = ["identical", "space"] + (["nfd", "nfd+space"] if i in exact_nfd else [])
            kind = w.pick(choices)
            c = exact_variant(w, orig, kind)
            if kind != "identical" and dump(c) in lines:
                c, kind = exact_variant(w, orig, "space"), "space"
            assert normalized_key(c) == normalized_key(orig), "exact copy differs after normalization"
            exact_kinds[kind] += 1
            lines.add(dump(c))
            items.append(Item(dump(c), c, ("exact", g)))

    for reason, n in FILTER_PLAN.items():
        for _ in range(n):
            source = w.rng.choices(sources, weights=weights)[0]
            row = fresh(lambda: filter_row(w, reason, source))
            items.append(Item(dump(row), row, reason=reason))
    for _ in range(LOW_SCORE_ROWS):
        source = w.rng.choices(sources, weights=weights)[0]
        row = fresh(lambda: clean_row(w, source, score=f32(w.rng.uniform(1.6, 2.95))))
        items.append(Item(dump(row), row, reason="low_score"))
    for kind, n in MALFORMED_PLAN.items():
        for _ in range(n):
            items.append(Item(malformed_line(w, kind, w.rng.choices(sources, weights=weights)[0]), None, reason=f"malformed:{kind}"))

    # Spread everything through the file, then put each group's original at the group's earliest line.
    w.rng.shuffle(items)
    groups: dict[tuple[str, int], list[int]] = {}
    for pos, it in enumerate(items):
        if it.group:
            groups.setdefault(it.group, []).append(pos)
    for key, positions in groups.items():
        members = [items[p] for p in positions]
        members = [m for m in members if m.original] + [m for m in members if not m.original]
        for p, m in zip(positions, members):
            items[p] = m

    stats = verify(items, near_j) if verify_truth else {}
    stats["exact_copy_kinds"] = dict(sorted(exact_kinds.items()))

    exact_groups = sorted([p for k, p in groups.items() if k[0] == "exact"])
    near_groups = sorted([p for k, p in groups.items() if k[0] == "near"])
    filter_rows = {str(p): it.reason for p, it in enumerate(items) if it.reason and it.reason.startswith("filter:")}
    malformed = {str(p): it.reason.split(":", 1)[1] for p, it in enumerate(items) if it.reason and it.reason.startswith("malformed:")}
    source_counts = Counter(it.row["source"] for it in items if it.row is not None)
    truth = {
        "rows": len(items),
        "exact_groups": exact_groups,
        "near_groups": near_groups,
        "filter_rows": filter_rows,
        "low_score_rows": [p for p, it in enumerate(items) if it.reason == "low_score"],
        "malformed_rows": malformed,
        "sources": {s: source_counts[s] for s in sources},
        "notes": {
            "positions": "0-based line numbers in sample.jsonl; in every group the first position is the original (its earliest line)",
            "sources": "counts over the rows that pass validation (malformed lines excluded)",
            "low_score_rows": "clean rows with score < 3.0; dropped with reason filter:low_score only when filters.min_score = 3.0",
            "filter_rows": "each row fails exactly this default filter and no other, and is not a duplicate of any row",
            "generator": f"data/make_sample.py, seed {seed}",
        },
    }
    jsonl = "".join(it.line + "\n" for it in items).encode("utf-8")
    truth_bytes = truth_json(truth).encode("utf-8")
    stats.update(rows=len(items), bytes=len(jsonl), groups={"exact": len(exact_groups), "near": len(near_groups)},
                 filter_rows=dict(sorted(Counter(filter_rows.values()).items())), low_score=len(truth["low_score_rows"]),
                 malformed=dict(sorted(Counter(malformed.values()).items())), sources=truth["sources"])
    return Sample(jsonl, truth_bytes, stats)


def verify(items: list[Item], near_j: list[float]) -> dict:
    """Check the planted truth; returns measurements for the report. Raises AssertionError on a violation."""
    rows = [(p, it) for p, it in enumerate(items) if it.row is not None]
    for p, it in enumerate(items):
        if it.row is None:
            try:
                obj = json.loads(it.line)
            except json.JSONDecodeError:
                continue
            conv = obj.get("conversations") if isinstance(obj, dict) else None
            ok = (isinstance(conv, list) and conv and all(isinstance(t, dict) and set(t) >= {"from", "value"}
                  and t["from"] in ("human", "gpt", "system") and isinstance(t["value"], str) for t in conv)
                  and any(t["from"] == "gpt" for t in conv))
            assert not ok, f"line {p}: planted as malformed but is valid"
    # Near copies against their original.
    sets = {p: shingle_set(conversation_text(it.row["conversations"])) for p, it in rows}
    by_group: dict[tuple[str, int], list[int]] = {}
    for p, it in rows:
        if it.group:
            by_group.setdefault(it.group, []).append(p)
    near_min = 1.0
    for key, positions in by_group.items():
        if key[0] == "near":
            orig = positions[0]
            assert items[orig].original
            canon = [token_text(conversation_text(items[p].row["conversations"])) for p in positions]
            assert len(set(canon)) == len(canon), f"near group at line {orig}: two members have the same words"
            for p in positions[1:]:
                j = jaccard(sets[orig], sets[p])
                assert j >= NEAR_MIN_JACCARD, f"near copy at line {p}: Jaccard {j:.3f} with its original"
                near_min = min(near_min, j)
    # Every other pair: exact Jaccard through an inverted index of shingles.
    group_of = {p: it.group for p, it in rows}
    postings: dict[str, list[int]] = {}
    worst = (0.0, -1, -1)
    for p, _ in rows:
        overlap: Counter = Counter()
        for sh in sets[p]:
            lst = postings.get(sh)
            if lst is None:
                postings[sh] = [p]
            else:
                overlap.update(lst)
                lst.append(p)
        for q, inter in overlap.items():
            if group_of[p] is not None and group_of[p] == group_of[q]:
                continue
            j = inter / (len(sets[p]) + len(sets[q]) - inter)
            if j > worst[0]:
                worst = (j, q, p)
    assert worst[0] < INDEPENDENT_MAX_JACCARD, f"lines {worst[1]} and {worst[2]}: Jaccard {worst[0]:.3f} outside any group"
    # Every row against every default filter, with the exact measures (both tokenizations).
    worst_clean = 0.0
    for p, it in rows:
        m = filter_measures(it.row["conversations"], exact=True)
        if it.reason and it.reason.startswith("filter:"):
            key = FILTER_KEYS[it.reason]
            assert m[key] > 1.0, f"line {p}: planted for {it.reason} but passes it ({m[key]:.2f} of the threshold)"
            others = {k: v for k, v in m.items() if k != key and v > 0.95}
            assert not others, f"line {p}: planted for {it.reason} but also near {others}"
        else:
            bad = {k: round(v, 3) for k, v in m.items() if v > 0.95}
            assert not bad, f"line {p}: a row planted to be kept is at or above a filter threshold: {bad}"
            worst_clean = max(worst_clean, *m.values())
    kept_like = [it.row for _, it in rows if it.reason is None]
    chars = [sum(len(t["value"]) for t in r["conversations"]) for r in (it.row for _, it in rows)]
    vocab = set()
    for _, it in rows:
        vocab.update(re.findall(r"[a-zà-ÿ]+", conversation_text(it.row["conversations"]).lower()))
    return {
        "near_jaccard_min": round(near_min, 4),
        "near_jaccard_mean": round(sum(near_j) / len(near_j), 4),
        "independent_jaccard_max": round(worst[0], 4),
        "kept_rows_worst_filter_fraction": round(worst_clean, 3),
        "avg_chars_per_conversation": round(sum(chars) / len(chars), 1),
        "max_chars_per_conversation": max(chars),
        "max_chars_excluding_turn_too_long": max(c for c, (_, it) in zip(chars, rows) if it.reason != "filter:turn_too_long"),
        "multi_turn_rows": sum(1 for r in kept_like if sum(t["from"] == "human" for t in r["conversations"]) > 1),
        "system_turn_rows": sum(1 for r in kept_like if r["conversations"][0]["from"] == "system"),
        "distinct_words": len(vocab),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="regenerate in memory and exit 1 if data/sample.jsonl or data/sample_truth.json differ")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip the pairwise-Jaccard and exact filter checks (on by default when writing, off with --check)")
    parser.add_argument("--verify", action="store_true", help="run those checks with --check too")
    parser.add_argument("--stats", action="store_true", help="print the sample's measurements as JSON")
    args = parser.parse_args(argv)
    verify_truth = args.verify or not (args.check or args.no_verify)
    try:
        sample = generate(verify_truth=verify_truth)
    except AssertionError as exc:
        print(f"make_sample: planted truth check failed: {exc}", file=sys.stderr)
        return 2
    if args.stats:
        print(json.dumps(sample.stats, indent=1, ensure_ascii=False))
    if args.check:
        stale = [p.name for p, data in ((SAMPLE_PATH, sample.jsonl), (TRUTH_PATH, sample.truth))
                 if not p.exists() or p.read_bytes() != data]
        if stale:
            print(f"make_sample --check: {', '.join(stale)} differ from the generator; run `python data/make_sample.py`",
                  file=sys.stderr)
            return 1
        print("make_sample --check: data/sample.jsonl and data/sample_truth.json match the generator")
        return 0
    SAMPLE_PATH.write_bytes(sample.jsonl)
    TRUTH_PATH.write_bytes(sample.truth)
    print(f"wrote {SAMPLE_PATH.name} ({sample.stats['rows']} lines, {sample.stats['bytes']:,} bytes) and {TRUTH_PATH.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
