# placeholder: the libjq bridge lands here
