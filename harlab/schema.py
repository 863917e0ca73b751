"""The project database's schema, as forward migrations.

``MIGRATIONS[i]`` upgrades schema version ``i`` to ``i + 1``: append, never edit. The store
(:mod:`harlab.store`) applies them when a project is created or opened.
"""

# Forward migrations: MIGRATIONS[i] upgrades schema version i to i + 1. Append, never edit.
MIGRATIONS: list[str] = [
    # 0 -> 1: the first schema.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,               -- data, train, evaluate, attack, query, score, study
        name TEXT NOT NULL DEFAULT '',
        config_json TEXT NOT NULL,        -- the frozen config dataclass, in full
        status TEXT NOT NULL DEFAULT 'running',  -- running, done, failed, cancelled
        result_json TEXT,
        error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE samples (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id),
        video TEXT NOT NULL,              -- path relative to the dataset root
        true_label TEXT NOT NULL,
        true_index INTEGER NOT NULL,
        keyframes_json TEXT NOT NULL,     -- frame indices
        timestamps_json TEXT NOT NULL,    -- seconds
        attack TEXT NOT NULL,
        eps REAL NOT NULL,
        attack_params_json TEXT NOT NULL DEFAULT '{}',
        clean_pred TEXT NOT NULL,
        clean_conf REAL NOT NULL,
        adv_pred TEXT NOT NULL,
        adv_conf REAL NOT NULL,
        clean_top5_json TEXT NOT NULL,    -- [[label, prob], ...]
        adv_top5_json TEXT NOT NULL,
        clean_frames_json TEXT NOT NULL,  -- PNG paths relative to the project folder
        adv_frames_json TEXT NOT NULL,
        survives_png INTEGER,             -- 1 when the stored PNGs still flip the classifier
        selected INTEGER NOT NULL DEFAULT 1,
        created_at REAL NOT NULL,
        UNIQUE (video, attack, eps, run_id)
    );
    CREATE TABLE llm_requests (
        id INTEGER PRIMARY KEY,
        cache_key TEXT NOT NULL,          -- hash of everything that shapes the answer
        sample_id INTEGER REFERENCES samples(id),
        modality TEXT NOT NULL,           -- unimodal, multimodal
        variant TEXT NOT NULL,            -- original, attacked, noise-N
        provider TEXT NOT NULL,
        base_url TEXT,
        model TEXT NOT NULL,
        request_json TEXT NOT NULL,       -- exact body sent (images by reference)
        response_json TEXT,               -- raw body received
        response_text TEXT,
        status TEXT NOT NULL,             -- ok, failed, skipped
        error TEXT,
        system_fingerprint TEXT,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        latency_s REAL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        finished_at REAL
    );
    CREATE INDEX llm_requests_cache ON llm_requests (cache_key, status);
    CREATE INDEX llm_requests_sample ON llm_requests (sample_id, modality, variant);
    CREATE TABLE scores (
        id INTEGER PRIMARY KEY,
        sample_id INTEGER NOT NULL REFERENCES samples(id),
        modality TEXT NOT NULL,
        metric TEXT NOT NULL,
        value REAL,
        details_json TEXT,
        created_at REAL NOT NULL,
        UNIQUE (sample_id, modality, metric)
    );
    CREATE TABLE annotators (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL
    );
    CREATE TABLE ratings (
        id INTEGER PRIMARY KEY,
        sample_id INTEGER NOT NULL REFERENCES samples(id),
        modality TEXT NOT NULL,
        annotator_id INTEGER NOT NULL REFERENCES annotators(id),
        field TEXT NOT NULL,
        value TEXT,
        comment TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (sample_id, modality, annotator_id, field)
    );
    """,
    # 1 -> 2: llm_requests remember their query run and, when answered from the store, the row
    # that first got the answer.
    """
    ALTER TABLE llm_requests ADD COLUMN run_id INTEGER REFERENCES runs(id);
    ALTER TABLE llm_requests ADD COLUMN cached_from INTEGER REFERENCES llm_requests(id);
    """,
    # 2 -> 3: independent answers per draw, with the sampling settings and the model snapshot
    # that answered; scores and ratings tied to the exact responses they judge (the first
    # schema's scores and ratings tables were never written by any release, so they are
    # replaced); blind A/B orders per annotator and item.
    """
    ALTER TABLE llm_requests ADD COLUMN draw INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE llm_requests ADD COLUMN temperature REAL;
    ALTER TABLE llm_requests ADD COLUMN seed INTEGER;
    ALTER TABLE llm_requests ADD COLUMN max_tokens INTEGER;
    ALTER TABLE llm_requests ADD COLUMN finish_reason TEXT;
    ALTER TABLE llm_requests ADD COLUMN response_model TEXT;
    CREATE INDEX llm_requests_run ON llm_requests (run_id);
    DROP TABLE scores;
    CREATE TABLE scores (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id),
        sample_id INTEGER NOT NULL REFERENCES samples(id),
        modality TEXT NOT NULL,            -- unimodal, multimodal
        pair TEXT NOT NULL,                -- 'attacked' (original vs attacked) or 'noise-k'
        metric TEXT NOT NULL,              -- syntactic_cosine, semantic_cosine, ...
        scorer TEXT NOT NULL,              -- what computed it (model name, rule version)
        value REAL,                        -- NULL only with a reason
        reason TEXT,
        response_a_id INTEGER NOT NULL REFERENCES llm_requests(id),  -- the original answer
        response_b_id INTEGER NOT NULL REFERENCES llm_requests(id),  -- attacked / noise answer
        details_json TEXT,
        created_at REAL NOT NULL,
        UNIQUE (metric, scorer, response_a_id, response_b_id)
    );
    CREATE INDEX scores_sample ON scores (sample_id, modality, pair, metric);
    DROP TABLE ratings;
    CREATE TABLE ratings (
        id INTEGER PRIMARY KEY,
        sample_id INTEGER NOT NULL REFERENCES samples(id),
        modality TEXT NOT NULL,
        annotator_id INTEGER NOT NULL REFERENCES annotators(id),
        item TEXT NOT NULL,                -- rubric item id
        value TEXT,                        -- as given (Likert number, choice, free text)
        original_response_id INTEGER NOT NULL REFERENCES llm_requests(id),
        attacked_response_id INTEGER NOT NULL REFERENCES llm_requests(id),
        rubric_version TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (annotator_id, item, original_response_id, attacked_response_id)
    );
    CREATE INDEX ratings_sample ON ratings (sample_id, modality, annotator_id);
    CREATE TABLE blind_orders (
        annotator_id INTEGER NOT NULL REFERENCES annotators(id),
        sample_id INTEGER NOT NULL REFERENCES samples(id),
        modality TEXT NOT NULL,
        a_is TEXT NOT NULL,                -- which answer is shown as A: original or attacked
        seed INTEGER NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (annotator_id, sample_id, modality)
    );
    """,
    # 3 -> 4: the current request of each (sample, modality, variant) is its newest row; every
    # reader of "the current answers" selects from this view instead of repeating the query.
    # Correlated, so a filter on sample_id reads that sample's rows through the
    # (sample_id, modality, variant) index.
    """
    CREATE VIEW current_requests AS
    SELECT r.* FROM llm_requests r
    WHERE r.id = (SELECT max(x.id) FROM llm_requests x WHERE x.sample_id = r.sample_id
                  AND x.modality = r.modality AND x.variant = r.variant);
    """,
    # 4 -> 5 (ratings, issue 19): a rating remembers whether it was given unblinded; each
    # blind order carries its SHA-256 commitment; the study may keep a chosen (rated) pair
    # current after a re-ask (pair_choices; the view prefers the choice over the newest row);
    # skips, flags and time per item; adjudicated values.
    """
    ALTER TABLE ratings ADD COLUMN unblinded INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE blind_orders ADD COLUMN commitment TEXT;
    CREATE TABLE pair_choices (
        sample_id INTEGER NOT NULL REFERENCES samples(id),
        modality TEXT NOT NULL,
        variant TEXT NOT NULL,              -- original, attacked
        request_id INTEGER NOT NULL REFERENCES llm_requests(id),
        chosen_at REAL NOT NULL,
        PRIMARY KEY (sample_id, modality, variant)
    );
    DROP VIEW current_requests;
    CREATE VIEW current_requests AS
    SELECT r.* FROM llm_requests r
    WHERE r.id = coalesce(
        (SELECT c.request_id FROM pair_choices c WHERE c.sample_id = r.sample_id
         AND c.modality = r.modality AND c.variant = r.variant),
        (SELECT max(x.id) FROM llm_requests x WHERE x.sample_id = r.sample_id
         AND x.modality = r.modality AND x.variant = r.variant));
    CREATE TABLE item_log (
        annotator_id INTEGER NOT NULL REFERENCES annotators(id),
        sample_id INTEGER NOT NULL REFERENCES samples(id),
        modality TEXT NOT NULL,
        original_response_id INTEGER NOT NULL REFERENCES llm_requests(id),
        attacked_response_id INTEGER NOT NULL REFERENCES llm_requests(id),
        seconds REAL NOT NULL DEFAULT 0,    -- time spent on the item, summed over visits
        skipped INTEGER NOT NULL DEFAULT 0,
        flag TEXT,                          -- a reason the item needs a second look
        updated_at REAL NOT NULL,
        PRIMARY KEY (annotator_id, original_response_id, attacked_response_id)
    );
    CREATE TABLE adjudications (
        id INTEGER PRIMARY KEY,
        sample_id INTEGER NOT NULL REFERENCES samples(id),
        modality TEXT NOT NULL,
        item TEXT NOT NULL,                 -- stored rubric key
        value TEXT NOT NULL,                -- the resolved value, stored terms
        original_response_id INTEGER NOT NULL REFERENCES llm_requests(id),
        attacked_response_id INTEGER NOT NULL REFERENCES llm_requests(id),
        adjudicator TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        rubric_version TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (item, original_response_id, attacked_response_id)
    );
    """,
]
