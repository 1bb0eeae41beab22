-- One database per service (the image creates "orders" from POSTGRES_DB).
CREATE DATABASE payments;
CREATE DATABASE inventory;
CREATE DATABASE shipping;
CREATE DATABASE orchestrator;
