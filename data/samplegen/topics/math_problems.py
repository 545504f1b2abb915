"""Math word problems with worked and checked arithmetic."""

from __future__ import annotations

from ..lexicon import LEX, MATH_ITEMS
from ..writer import Writer, nums

def money(x: float) -> str:
    return f"${x:,.2f}"


N_MATH_KINDS = 12


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
        scores = nums(w, k, 50, 98)
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
