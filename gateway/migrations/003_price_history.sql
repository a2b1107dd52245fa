-- Daily closes per symbol, the return history of the risk analytics (GET /risk/var).
-- Filled by `fixgate prices import` (source 'csv:<file>') and by the simulated
-- venue's last print of each trading date, written at the trading-day close
-- (source 'sim'). A later row for the same (symbol, date) replaces the earlier.
CREATE TABLE price_history (
    symbol      TEXT NOT NULL,
    trade_date  DATE NOT NULL,
    close       DOUBLE PRECISION NOT NULL CHECK (close > 0),
    volume      BIGINT,
    source      TEXT NOT NULL,
    PRIMARY KEY (symbol, trade_date)
);
