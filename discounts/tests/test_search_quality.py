"""What shoppers type, and the products each search may answer with: a labelled set over the demo
city's catalogue plus look-alikes that share letters with it ("Goat cheese" beside "oat", "Minced beef"
beside "milk"). Every result must be allowed for its query, and what the query plainly asks for must
be found. The same rules serve /search/, /city/ and the API's ``q`` (one selector)."""

import pytest

from demo.seeding import CATEGORIES
from discounts.selectors import deals_search
from tests.factories import CategoryFactory, MarketFactory, create_deal

pytestmark = pytest.mark.django_db

LOOK_ALIKES = {"dairy": ["Oat milk 1L", "Goat cheese 150g"], "snacks": ["Milk chocolate 100g"]}

DAIRY = {"Whole milk 1L", "Greek yoghurt 500g", "Butter 250g", "Gouda 400g", "Eggs (10)", "Oat milk 1L", "Goat cheese 150g"}
MEAT_AND_FISH = {"Chicken breast 500g", "Salmon fillet 250g", "Minced beef 500g", "Bratwurst (4)"}
PRODUCE = {"Apples 1kg", "Bananas 1kg", "Tomatoes 500g", "Avocado", "Strawberries 250g"}

# query: (must be found, may be found). A product in neither is a wrong answer.
LABELLED = {
    # the review's: "milk" answered with minced beef
    "milk": ({"Whole milk 1L", "Oat milk 1L"}, {"Milk chocolate 100g"}),
    "Milk": ({"Whole milk 1L", "Oat milk 1L"}, {"Milk chocolate 100g"}),
    "whole milk": ({"Whole milk 1L"}, {"Oat milk 1L", "Milk chocolate 100g"}),
    "oat": ({"Oat milk 1L"}, set()),
    "oat milk": ({"Oat milk 1L"}, {"Whole milk 1L", "Milk chocolate 100g"}),
    "goat": ({"Goat cheese 150g"}, set()),
    "cheese": ({"Goat cheese 150g"}, set()),
    # spelling variants, plurals and typos
    "yogurt": ({"Greek yoghurt 500g"}, set()),
    "yoghurt": ({"Greek yoghurt 500g"}, set()),
    "yoghurts": ({"Greek yoghurt 500g"}, set()),
    "greek yogurt": ({"Greek yoghurt 500g"}, set()),
    "apples": ({"Apples 1kg"}, set()),
    "apple": ({"Apples 1kg"}, set()),
    "banana": ({"Bananas 1kg"}, set()),
    "bananna": ({"Bananas 1kg"}, set()),
    "tomato": ({"Tomatoes 500g", "Tomato sauce 400g"}, set()),
    "tomatoes": ({"Tomatoes 500g"}, {"Tomato sauce 400g"}),
    "strawbery": ({"Strawberries 250g"}, set()),
    "strawberries": ({"Strawberries 250g"}, set()),
    "choclate": ({"Dark chocolate 100g"}, {"Milk chocolate 100g"}),
    "chocolate": ({"Dark chocolate 100g", "Milk chocolate 100g"}, set()),
    "choc": ({"Dark chocolate 100g", "Milk chocolate 100g"}, set()),
    "cofee": ({"Coffee beans 1kg"}, set()),
    "coffee": ({"Coffee beans 1kg"}, set()),
    "piza": ({"Frozen pizza"}, set()),
    "pizza": ({"Frozen pizza"}, set()),
    "croissant": ({"Croissants (4)"}, set()),
    "bagel": ({"Bagels (6)"}, set()),
    "egg": ({"Eggs (10)"}, set()),
    "eggs": ({"Eggs (10)"}, set()),
    # words that share letters with other products
    "beef": ({"Minced beef 500g"}, set()),
    "mince": ({"Minced beef 500g"}, set()),
    "rice": ({"Basmati rice 1kg"}, set()),
    "ice": ({"Ice cream 1L"}, set()),
    "ice cream": ({"Ice cream 1L"}, set()),
    "peas": ({"Frozen peas 1kg"}, set()),
    "peanuts": ({"Salted peanuts 200g"}, set()),
    "cola": ({"Cola 1.5L"}, set()),
    "butter": ({"Butter 250g"}, set()),
    "bread": ({"Rye bread 750g"}, set()),
    "fish": ({"Fish fingers (15)"}, set()),
    "salmon": ({"Salmon fillet 250g"}, set()),
    "chicken": ({"Chicken breast 500g"}, set()),
    "juice": ({"Orange juice 1L"}, set()),
    "orange": ({"Orange juice 1L"}, set()),
    "water": ({"Sparkling water 6x1.5L"}, set()),
    "soap": ({"Dish soap 500ml"}, set()),
    "pasta": ({"Pasta 500g"}, set()),
    "oil": ({"Olive oil 750ml"}, set()),
    "diapers": ({"Diapers size 4 (44)"}, set()),
    "wipes": ({"Baby wipes (80)"}, set()),
    # a category's own words find the category when no product is called that
    "dairy": (DAIRY, set()),
    "meat": (MEAT_AND_FISH, set()),
    "vegetables": (PRODUCE, set()),
    "fruit": (PRODUCE, set()),
    "snacks": ({"Dark chocolate 100g", "Crisps 175g", "Salted peanuts 200g", "Gummy bears 200g", "Milk chocolate 100g"}, set()),
    # nothing of the kind in the catalogue
    "anchovies": (set(), set()),
    "wine": (set(), set()),
    "mi": (set(), set()),
}


@pytest.fixture
def catalogue():
    market = MarketFactory()
    for slug, (name, products) in CATEGORIES.items():
        category = CategoryFactory(slug=slug, name=name)
        for product, _ in products:
            create_deal(market=market, category=category, product=product)
        for product in LOOK_ALIKES.get(slug, []):
            create_deal(market=market, category=category, product=product)


def test_each_labelled_query_finds_what_it_asks_for_and_nothing_else(catalogue):
    wrong = {}
    for query, (must, may) in LABELLED.items():
        found = set(deals_search(q=query).values_list("product", flat=True))
        missing, extra = must - found, found - must - may
        if missing or extra:
            wrong[query] = {"missing": sorted(missing), "not asked for": sorted(extra)}
    assert wrong == {}


def test_the_labelled_set_can_fail(catalogue):
    # positive control: each query's wrong answers exist in the catalogue, so a search that matched
    # loosely (the review's: word similarity 0.4) would be caught
    loose = set(deals_search().values_list("product", flat=True))
    assert {"Minced beef 500g", "Goat cheese 150g", "Sourdough loaf"} <= loose
    assert all(must | may < loose for must, may in LABELLED.values())


def test_the_best_match_comes_first(catalogue):
    assert deals_search(q="milk").first().product in {"Whole milk 1L", "Oat milk 1L"}
    assert deals_search(q="yogurt").first().product == "Greek yoghurt 500g"
