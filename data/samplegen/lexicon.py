"""Real English words and phrases, grouped by the slot of a template they fill (``LEX``), and the fixed
lists the topics draw from (science concepts, history events, code nouns, math items, system prompts)."""

from __future__ import annotations


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


# Free sentence frames (plant_filters.FREE_FRAMES) for the over-long turns: short fixed parts between slots
# drawn from large word lists, so that 5,000+ words of it still pass the repetition filters.
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
