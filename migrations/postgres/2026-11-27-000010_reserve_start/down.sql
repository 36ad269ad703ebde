DROP FUNCTION csms_reserve_start;
