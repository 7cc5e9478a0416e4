"""The console's queue in pages: every case can be reached, deadline first across pages, and
the filters stay with the page links (before, it read the first 2,000 cases the database
gave, in no order, and sorted only those: with more, some never showed)."""

from __future__ import annotations

import re

from tests.web_kit import console_client


def _references(html: str) -> list[str]:
    return re.findall(r'class="ref" href="/cases/([^"]+)"', html)


def _pages_of_cases(world, count: int) -> list[str]:
    """`count` open cases a day apart (so their deadlines differ), oldest first."""
    references = []
    for n in range(count):
        references.append(
            world.email(
                f"person{n}@example.se", "Hej, jag vill veta vilka personuppgifter ni har om mig."
            ).reference
        )
        world.clock.advance(days=1)
    return references


async def test_the_queue_shows_a_hundred_cases_a_page_deadline_first_and_the_rest_on_the_next(
    world,
):
    references = _pages_of_cases(world, 130)
    async with console_client(world) as (http, _):
        first = await http.get("/")
        assert _references(first.text) == references[:100]
        assert "Cases 1–100 of 130" in first.text
        assert "page 1 of 2" in first.text
        later = re.search(r'rel="next" href="([^"]+)"', first.text)
        assert later is not None
        second = await http.get(later[1].replace("&amp;", "&"))
        assert _references(second.text) == references[100:]
        assert "Cases 101–130 of 130" in second.text
        assert 'rel="next"' not in second.text and 'rel="prev"' in second.text


async def test_a_page_link_keeps_the_filters_and_a_page_past_the_end_shows_the_last(world):
    references = _pages_of_cases(world, 105)
    # Every case's legal deadline (a month) has passed once the clock is moved on.
    world.clock.advance(days=40)
    async with console_client(world) as (http, _):
        overdue = await http.get("/?overdue=1&kind=access&status=")
        link = re.search(r'rel="next" href="([^"]+)"', overdue.text)
        assert link is not None
        target = link[1].replace("&amp;", "&")
        assert "overdue=1" in target and "kind=access" in target and "status=&" in target
        past_the_end = await http.get("/?page=99")
        assert _references(past_the_end.text) == references[100:]
        unreadable = await http.get("/?page=x")
        assert _references(unreadable.text) == references[:100]


async def test_a_single_page_of_cases_has_no_page_links(world):
    reference = world.email("solo@example.se", "Radera mina uppgifter.").reference
    async with console_client(world) as (http, _):
        page = await http.get("/")
    assert _references(page.text) == [reference]
    assert "1 case(s)" in page.text and 'rel="next"' not in page.text
