DROP TABLE local_lists;
