"""A customer's Slack message as the assistant reads it."""
from bot.channels.slack import customer_text


def test_the_apps_mention_goes_and_slack_markup_becomes_words():
    assert customer_text("<@UBOT> where is my order?", "UBOT") == "where is my order?"
    assert customer_text("ask <@U123|sam> about <https://x.example/a|this page> &amp; <mailto:a@b.example|a@b.example>",
                         "UBOT") == "ask @someone about this page & a@b.example"
    assert customer_text("<!here> 5 &lt; 6", "UBOT") == "@here 5 < 6"
    assert customer_text("<@UBOT>", "UBOT") == ""
