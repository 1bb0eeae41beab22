#!/bin/bash
# One database per service, each owned by the service's own role, which may
# connect to no other; the superuser only sets up. The passwords come from
# the environment docker-compose.yml gives this container.
set -euo pipefail

create() {  # database role password
  psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres \
    -v db="$1" -v role="$2" -v password="$3" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
}

create orders sagaworks_order "$SAGAWORKS_ORDER_DB_PASSWORD"
create payments sagaworks_payment "$SAGAWORKS_PAYMENT_DB_PASSWORD"
create inventory sagaworks_inventory "$SAGAWORKS_INVENTORY_DB_PASSWORD"
create shipping sagaworks_shipping "$SAGAWORKS_SHIPPING_DB_PASSWORD"
create orchestrator sagaworks_orchestrator "$SAGAWORKS_ORCHESTRATOR_DB_PASSWORD"
