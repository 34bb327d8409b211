"""A scorecard's version: the key of its stored history."""


def test_an_unchanged_scorecard_keeps_its_version_when_the_model_grows():
    """The version is the key of a scorecard's stored history: keys added to the model later
    (`predicts`, the `log` scoring) must not change the version of a file that does not use
    them. The demo's files, as shipped since their histories were first stored."""
    from importlib import resources

    from healthscore.config.scorecard import load_scorecard

    folder = resources.files("healthscore.demo") / "scorecards"
    versions = {name: load_scorecard(folder / f"{name}.yaml").scorecard.version
                for name in ("health", "expansion")}
    assert versions == {"health": "2fe11cf7c4e8", "expansion": "84f9277d4847"}
