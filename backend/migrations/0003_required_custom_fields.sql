-- Required custom fields are enforced by the database, so a write that leaves them out is
-- refused whatever path it takes, and the API's common path (no custom fields given) needs no
-- lookup of the definitions before it writes.

CREATE FUNCTION require_custom_fields() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    missing record;
BEGIN
    SELECT d.key, d.label INTO missing
      FROM custom_field_definitions d
     WHERE d.tenant_id = NEW.tenant_id AND d.entity = TG_ARGV[0] AND d.required
       AND coalesce(jsonb_typeof(NEW.custom_fields -> d.key), 'null') = 'null'
     ORDER BY d.key
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '''%'' is required', missing.label
            USING ERRCODE = 'check_violation', CONSTRAINT = 'required_custom_field', DETAIL = missing.key;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER accounts_required_custom_fields BEFORE INSERT OR UPDATE OF custom_fields ON accounts
    FOR EACH ROW EXECUTE FUNCTION require_custom_fields('Account');
CREATE TRIGGER contacts_required_custom_fields BEFORE INSERT OR UPDATE OF custom_fields ON contacts
    FOR EACH ROW EXECUTE FUNCTION require_custom_fields('Contact');
CREATE TRIGGER products_required_custom_fields BEFORE INSERT OR UPDATE OF custom_fields ON products
    FOR EACH ROW EXECUTE FUNCTION require_custom_fields('Product');
CREATE TRIGGER orders_required_custom_fields BEFORE INSERT OR UPDATE OF custom_fields ON orders
    FOR EACH ROW EXECUTE FUNCTION require_custom_fields('Order');
CREATE TRIGGER tickets_required_custom_fields BEFORE INSERT OR UPDATE OF custom_fields ON tickets
    FOR EACH ROW EXECUTE FUNCTION require_custom_fields('Ticket');
