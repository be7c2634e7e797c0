"""The CLI's bad input: clear messages and exit codes, nothing started."""

from outreach.cli import DEMO_MARKER, main


def test_a_bad_as_of_date_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OUTREACH_HOME", str(tmp_path))
    assert main(["run", "--as-of", "2014/06/30"]) == 2
    assert "--as-of must be a date as YYYY-MM-DD" in capsys.readouterr().err
    assert not (tmp_path / "airflow" / "airflow.db").exists()


def test_a_bad_environment_variable_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OUTREACH_HOME", str(tmp_path))
    monkeypatch.setenv("OUTREACH_AS_OF", "yesterday")
    assert main(["headlines"]) == 2
    assert "OUTREACH_AS_OF" in capsys.readouterr().err


def test_headlines_without_a_warehouse(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OUTREACH_HOME", str(tmp_path))
    assert main(["headlines", "--published"]) == 1
    assert "no warehouse" in capsys.readouterr().err


def test_demo_writes_the_inbox_and_marks_its_as_of(tmp_path, monkeypatch):
    monkeypatch.setenv("OUTREACH_HOME", str(tmp_path))
    assert main(["demo", str(tmp_path / "box")]) == 0
    assert (tmp_path / "box" / DEMO_MARKER).read_text() == "2014-06-30"
    assert {p.name for p in (tmp_path / "box").iterdir()} >= {
        "townships",
        "joint_branches",
        "enterprises",
        "county",
    }


def test_an_as_of_date_before_the_programme_is_refused(tmp_path, monkeypatch, capsys):
    """Airflow would create no task for it and call the run a success."""
    monkeypatch.setenv("OUTREACH_HOME", str(tmp_path))
    assert main(["run", "--as-of", "2011-12-31"]) == 2
    assert "before the programme's start (2012-01-01)" in capsys.readouterr().err
    assert not (tmp_path / "airflow" / "airflow.db").exists()
